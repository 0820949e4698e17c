"""Imports every module that defines a kind, so KINDS is complete."""

from champion.api.v1alpha1 import gpupool, kinds, modelversion, rollout

__all__ = ["gpupool", "kinds", "modelversion", "rollout"]
