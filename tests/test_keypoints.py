"""cmva_keras.keypoints against the hand order as the dataset documents it.

docs/method.md ("Keypoint order"): "0 is the root [RHD's wrist], then thumb,
index, middle, ring, pinky, each from tip to knuckle (tip, DIP, PIP, MCP). So
9-12 is the middle finger, 12 its MCP and 11 its PIP." The expected values
below are written out from that sentence, not computed like the module does.
"""

import numpy as np

from cmva_keras import keypoints

DOCUMENTED = [
    "wrist",
    "thumb tip", "thumb dip", "thumb pip", "thumb mcp",
    "index tip", "index dip", "index pip", "index mcp",
    "middle tip", "middle dip", "middle pip", "middle mcp",
    "ring tip", "ring dip", "ring pip", "ring mcp",
    "pinky tip", "pinky dip", "pinky pip", "pinky mcp",
]


def documented(joint):
    """Indices of `joint` ("tip", "mcp", ...) in the documented order, thumb to pinky."""
    return tuple(i for i, name in enumerate(DOCUMENTED) if name.endswith(" " + joint))


def test_names_follow_the_documented_order():
    assert keypoints.NUM_KEYPOINTS == 21 == len(keypoints.NAMES)
    assert [name.replace("_", " ") for name in keypoints.NAMES] == DOCUMENTED
    assert keypoints.FINGER_NAMES == ("thumb", "index", "middle", "ring", "pinky")


def test_joint_index_sets():
    assert keypoints.WRIST == 0
    assert keypoints.TIPS == documented("tip") == (1, 5, 9, 13, 17)
    assert keypoints.DIPS == documented("dip") == (2, 6, 10, 14, 18)
    assert keypoints.PIPS == documented("pip") == (3, 7, 11, 15, 19)
    assert keypoints.MCPS == documented("mcp") == (4, 8, 12, 16, 20)
    # Each finger lists its joints tip to knuckle, and the fingers cover 1..20 once.
    assert keypoints.FINGERS[2] == (9, 10, 11, 12)
    assert [DOCUMENTED[i].split()[0] for i in keypoints.FINGERS[3]] == ["ring"] * 4
    assert sorted(i for finger in keypoints.FINGERS for i in finger) == list(range(1, 21))


def test_the_middle_finger_scale_bone_and_the_palm_root():
    assert keypoints.MIDDLE_MCP == 12 and keypoints.MIDDLE_PIP == 11
    assert keypoints.SCALE_BONE == (12, 11)
    assert keypoints.PALM_ROOT == (0, 12)
    assert keypoints.ROOT == 0
    points = np.zeros((2, 21, 3))
    points[:, 0] = [0.0, 0.0, 0.0]
    points[:, 12] = [[0.0, 90.0, 0.0], [10.0, 20.0, 30.0]]
    points[:, 11] = 1000.0  # no other keypoint matters
    np.testing.assert_allclose(keypoints.palm_root(points), [[0.0, 45.0, 0.0], [5.0, 10.0, 15.0]])


def test_bones_form_a_tree_from_the_wrist_out_to_each_tip():
    assert len(keypoints.BONES) == 20 == len(set(keypoints.BONES))
    assert keypoints.BONES == tuple(b for bones in keypoints.FINGER_BONES for b in bones)
    # The wrist joins each MCP; each finger chains MCP -> PIP -> DIP -> tip.
    assert keypoints.FINGER_BONES[2] == ((0, 12), (12, 11), (11, 10), (10, 9))
    parents = {child: parent for parent, child in keypoints.BONES}
    assert sorted(parents) == list(range(1, 21))  # every keypoint but the wrist has one parent
    for tip in documented("tip"):
        chain = [tip]
        while chain[-1] in parents:
            chain.append(parents[chain[-1]])
        assert [DOCUMENTED[i].split()[-1] for i in chain] == ["tip", "dip", "pip", "mcp", "wrist"]
        assert len({DOCUMENTED[i].split()[0] for i in chain[:-1]}) == 1  # one finger
