"""hiddenstruct.data"""
