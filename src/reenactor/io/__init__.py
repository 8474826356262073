"""reenactor.io"""
