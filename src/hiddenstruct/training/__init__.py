"""hiddenstruct.training"""
