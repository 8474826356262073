"""reenactor.models"""
