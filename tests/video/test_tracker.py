"""The tracker on synthetic motion: identities kept through weak frames and crossings, gaps end tracks."""

from __future__ import annotations

import numpy as np

from facesearch.video.tracker import FaceTracker, TrackerConfig, greedy_match, iou_matrix


def box(x: float, y: float, size: float = 60) -> list[float]:
    return [x, y, x + size, y + size * 1.2]


def test_two_faces_moving_apart_keep_their_ids_through_a_weak_frame() -> None:
    tracker = FaceTracker()
    ids = []
    for f in range(40):
        boxes = np.array([box(100 + 4 * f, 100), box(500 - 4 * f, 140)], np.float32)
        scores = np.array([0.95, 0.4 if f == 20 else 0.9], np.float32)  # the second face turns away once
        ids.append(tracker.step(f, boxes, scores).track_ids.tolist())
    assert all(row == ids[0] for row in ids) and len(set(ids[0])) == 2
    assert [t.hits for t in tracker.finish()] == [40, 40]


def test_a_weak_detection_never_starts_a_track_and_a_gap_ends_one() -> None:
    tracker = FaceTracker(TrackerConfig(max_gap_frames=5))
    assert tracker.step(0, np.array([box(10, 10)], np.float32), np.array([0.5], np.float32)).track_ids.tolist() == [-1]
    assert tracker.step(1, np.array([box(10, 10)], np.float32), np.array([0.9], np.float32)).track_ids.tolist() == [1]
    ended = []
    for f in range(2, 10):
        ended += tracker.step(f, np.zeros((0, 4), np.float32), np.zeros(0, np.float32)).ended
    assert [t.id for t in ended] == [1] and ended[0].frames == [1]
    again = tracker.step(10, np.array([box(10, 10)], np.float32), np.array([0.9], np.float32))
    assert again.track_ids.tolist() == [2]  # after the gap: a new track


def test_iou_and_greedy_matching() -> None:
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    b = np.array([[21, 21, 31, 31], [0, 0, 10, 10], [100, 100, 110, 110]], np.float32)
    iou = iou_matrix(a, b)
    assert iou[0, 1] == 1.0 and iou[0, 2] == 0.0 and 0.6 < iou[1, 0] < 0.7
    assert sorted(greedy_match(iou, 0.3)) == [(0, 1), (1, 0)]
    assert greedy_match(iou_matrix(a[:0], b), 0.3) == []
