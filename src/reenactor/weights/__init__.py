"""reenactor.weights"""
