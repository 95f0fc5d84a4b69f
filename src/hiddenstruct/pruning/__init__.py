"""hiddenstruct.pruning"""
