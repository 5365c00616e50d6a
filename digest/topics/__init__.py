"""Topic classification: file an article under the configured topics, with a score and the reasons.

    normalize ─► rules (compiled once per config) ─► classify: evidence per topic ─► verdicts
                                                     (article_text scanned once, findings of
                                                     each topic's rules rolled up and tallied)

The rules of a topic (``TopicRules``) read like an editor's brief:

    feeds, categories        imply the topic: an article of such a feed, or carrying such a
                             category, is filed whatever its score
    include, places,         terms and phrases; each occurrence adds to the score:
    people, groups             in the title 3, in the summary 1, in a category's name 1
    ambiguous                terms that count only with supporting evidence: another term, feed
                             or category of a topic in the same tree ("Jordan" next to "Amman")
    exclude                  vetoes the topic when it occurs in the title or summary
    ignore                   phrases that are not mentions ("Gulf of Mexico"): their words count
                             for nothing, and the article may still be filed on other evidence;
                             a parent's ignore phrases hold for its descendants too
    threshold                the score at which terms alone file the article (default 1)

A feed match adds 1 and a category match 2 to the score. Matching is on normalized text
(``normalize_text``: case, diacritics, Arabic letter variants, Persian and Turkish letters,
the Hebrew geresh and gershayim) on whole words, with Arabic and Hebrew clitic prefixes allowed
(``rules``).

A parent topic takes in its children: its score counts its own evidence and that of every
descendant not vetoed (one place in the text counts once), and it is filed when its own rules
file it or any descendant is filed on its own. An exclude vetoes its own topic only: a vetoed
parent leaves its children's verdicts alone, and a vetoed child's evidence does not reach its
parent. A filed article whose score is below ``UNSURE_MARGIN`` times the threshold is *unsure*;
composition never makes it the lead.
"""

from digest.topics.classify import (
    CATEGORY_TEXT_WEIGHT,
    CATEGORY_WEIGHT,
    FEED_WEIGHT,
    SUMMARY_WEIGHT,
    TITLE_WEIGHT,
    TopicClassifier,
    classifier_for,
)
from digest.topics.normalize import normalize_text
from digest.topics.verdicts import (
    UNSURE_MARGIN,
    Evidence,
    Explanation,
    TopicVerdict,
    Veto,
    is_unsure,
)

__all__ = [
    "CATEGORY_TEXT_WEIGHT",
    "CATEGORY_WEIGHT",
    "FEED_WEIGHT",
    "SUMMARY_WEIGHT",
    "TITLE_WEIGHT",
    "UNSURE_MARGIN",
    "Evidence",
    "Explanation",
    "TopicClassifier",
    "TopicVerdict",
    "Veto",
    "classifier_for",
    "is_unsure",
    "normalize_text",
]
