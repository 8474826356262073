"""reenactor.render"""
