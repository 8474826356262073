"""reenactor.eval"""
