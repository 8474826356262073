"""reenactor.face"""
