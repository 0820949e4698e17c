"""An API refusal the user must fix names its cause class and what to do; transient ones don't."""

from __future__ import annotations

import pytest

from champion.api.v1alpha1 import reasons
from champion.domain.api_failures import classify


def test_forbidden_names_the_verb_the_resource_and_the_fix() -> None:
    failure = classify(
        403,
        'httproutes.gateway.networking.k8s.io is forbidden: User "system:serviceaccount:'
        'champion-system:champion" cannot create resource "httproutes"',
        "POST",
        "/apis/gateway.networking.k8s.io/v1/namespaces/demo/httproutes",
    )
    assert failure is not None and failure.permanent
    assert failure.reason == reasons.FORBIDDEN
    assert "may not create httproutes (gateway.networking.k8s.io/v1) in namespace demo" in (
        failure.message
    )
    assert "ClusterRole" in failure.message


def test_an_unserved_kind_says_which_crds_to_install() -> None:
    failure = classify(
        404,
        "404 page not found",
        "POST",
        "/apis/gateway.networking.k8s.io/v1/namespaces/demo/httproutes",
    )
    assert failure is not None and failure.reason == reasons.MISSING_API
    assert failure.message == (
        "httproutes (gateway.networking.k8s.io/v1) is not served by this cluster: install the "
        "Gateway API CRDs, or choose another traffic provider"
    )


def test_a_missing_namespace_is_a_reference_not_found() -> None:
    failure = classify(
        404, 'namespaces "gone" not found', "POST", "/api/v1/namespaces/gone/services"
    )
    assert failure is not None and failure.reason == reasons.REFERENCE_NOT_FOUND


def test_an_invalid_object_quotes_the_servers_field_error() -> None:
    failure = classify(
        422,
        'Deployment.apps "x" is invalid: metadata.labels: Invalid value: "a…": must be no more '
        "than 63 characters",
        "POST",
        "/apis/apps/v1/namespaces/demo/deployments",
    )
    assert failure is not None and failure.reason == reasons.INVALID_SPEC
    assert "must be no more than 63 characters" in failure.message
    assert "create deployments in namespace demo" in failure.message


@pytest.mark.parametrize("status", [409, 429, 500, 503])
def test_transient_errors_are_left_to_retries(status: int) -> None:
    assert classify(status, "try again", "PATCH", "/api/v1/namespaces/demo/services/x") is None
