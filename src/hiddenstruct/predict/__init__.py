"""hiddenstruct.predict"""
