"""videomodel"""
