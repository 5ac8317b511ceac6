"""The edge and the control plane each keep their own copy of the call events' vocabulary (the edge never imports
chalicelib, docs/sip-events.md is the contract): the copies must name the same values, so a result or media
security the edge sends is one the control plane can store."""

from __future__ import annotations

from sipedge import calls as edge

from chalicelib.domain import calls as control_plane


def test_the_edge_and_the_control_plane_name_the_same_results_media_and_event_kinds() -> None:
    assert [r.value for r in edge.Result] == [r.value for r in control_plane.CallResult]
    assert [m.value for m in edge.Media] == [m.value for m in control_plane.MediaSecurity]
    assert edge.CALL_KINDS == control_plane.CALL_EVENT_KINDS
