"""The built-in kinds: face, head, person, plate, text, and the default registry ``KINDS``.

Default policies per kind, and why:

* face, head: pixelate, 6 blocks across (defeats face recognition, keeps the scene usable),
  the grid shifted by a secret per-track offset (``Pixelate.shift``: an attacker who
  pixelates his own gallery cannot reproduce the mosaic), and per-block colour noise
  (``MOSAIC_NOISE``); faces masked with the head outline (``headshape.HEAD``: hair above, ears
  beside), since hair and head shape identify too. The noise is for the attacker who holds
  another picture of the same moment (a second camera, a leaked frame) and masks it himself:
  two mosaics of the same face then differ only by their grids and their noise. On a clip panned
  over one photo of three people (``verify``'s parrot attack, 14 draws of keys), he named the
  right person for 69 % of the half-tracks by their mean descriptor (44 % by the best frame) at
  noise 24, 54 % (38 %) at 48 and 43 % (35 %) at 64, against chance 33 %; on a parade of eleven
  people, 14 % (10 %) at 48 and 11 % (9 %) at 64, chance 9 %. So the noise is a quarter of the
  grey range per block and channel: it covers the colour differences between people (skin,
  hair) that survive six blocks across; it changes how a mosaic looks, not how much is masked;
* person: pixelate 8 blocks across the body's longer side -- gait, clothes and build stop
  identifying while the silhouette stays for training; threshold 0.25 (SSDLite scores of
  small pedestrians are low);
* plate, text: solid fill -- pixelated characters of a known font can be matched back by
  search, so nothing of the glyphs is kept; the DB score threshold rapidocr uses (0.5).

``persons`` masks whole bodies; ``heads`` masks, for each tracked person whose face is not found,
the head estimated from the person box (``--person-mode`` turns one into the other). What
``--kinds`` protects when not given: faces, heads of persons whose face is not found (walking
away, too small), and licence plates.
"""

from __future__ import annotations

from gamyeon.detect.text import PLATE, TEXT
from gamyeon.kindpolicy import KindPolicy
from gamyeon.kinds.detectors import FACE, FACES, PERSON, PERSONS, TEXTS
from gamyeon.kinds.heads import head_of_person
from gamyeon.kinds.registry import KindRegistry
from gamyeon.kinds.spec import KindSpec, Mode
from gamyeon.mask.headshape import HEAD
from gamyeon.operators import Fill, Pixelate
from gamyeon.track.temporal import TemporalConfig

HEAD_KIND = "head"
#: standard deviation (grey levels, per channel) of the seeded colour noise on every block of the
#: default face and head mosaics (see the module docstring)
MOSAIC_NOISE = 64.0

#: persons and plates are detected less often than faces: their gaps and pads follow their period
_BY_PERIOD = TemporalConfig.for_period

BUILTIN_KINDS = (
    KindSpec(FACE, FACE, KindPolicy(operator=Pixelate(noise=MOSAIC_NOISE), outline=HEAD), ("faces",), default=True),
    KindSpec(
        HEAD_KIND,
        PERSON,
        KindPolicy(operator=Pixelate(noise=MOSAIC_NOISE), mask_scale=1.2, threshold=0.25),
        ("heads",),
        default=True,
        derived_from=PERSON,
        derive=head_of_person,
        modes=(Mode("head"),),
    ),
    KindSpec(
        PERSON,
        PERSON,
        KindPolicy(operator=Pixelate(blocks=8), mask_scale=1.1, threshold=0.25),
        ("persons",),
        temporal=_BY_PERIOD,
        # the segmentation network sees persons
        silhouette=True,
        # the person box, or the person's outline (a silhouette from a policy file becomes a box)
        modes=(Mode("body", silhouette=False), Mode("silhouette", silhouette=True)),
    ),
    KindSpec(
        PLATE,
        TEXT,
        KindPolicy(operator=Fill(), mask_scale=1.15, threshold=0.5),
        ("plates",),
        default=True,
        temporal=_BY_PERIOD,
    ),
    KindSpec(TEXT, TEXT, KindPolicy(operator=Fill(), mask_scale=1.1, threshold=0.5), ("text",), temporal=_BY_PERIOD),
)

#: the registry every run uses
KINDS = KindRegistry((FACES, PERSONS, TEXTS), BUILTIN_KINDS)
