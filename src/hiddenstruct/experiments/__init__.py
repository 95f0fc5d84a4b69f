"""hiddenstruct.experiments"""
