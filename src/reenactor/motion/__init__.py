"""reenactor.motion"""
