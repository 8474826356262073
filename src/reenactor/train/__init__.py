"""reenactor.train"""
