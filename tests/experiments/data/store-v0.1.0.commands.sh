# 0.1.0 command lines of the migration fixture (tiny sweeps); $1 = store, $2 = output folder
set -e
H="python -m hiddenstruct experiment"
$PY -m hiddenstruct experiment prune-ffn --architectures 8 --methods class_blinded random --repeats 1 --epochs 1 --train-subset 64 --obd-samples 8 --retrain no --relative-p 0.5 --max-zero-fraction 0.5 --store $1 --output $2/ffn
$PY -m hiddenstruct experiment prune-rnn --modes GRU --scopes both --percents 0.5 --n 40 --hidden-sizes 2 --embedding-dim 2 --base-epochs 1 --retrain-epochs 0 --store $1 --output $2/rnn
$PY -m hiddenstruct experiment priors-rnn --families ws --count 2 --n-min 4 --n-max 5 --epochs 1 --reber-n 40 --batch-size 16 --clip 1 --store $1 --output $2/priors
