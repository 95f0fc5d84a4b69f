"""hiddenstruct.nas"""
