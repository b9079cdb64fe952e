"""IFEval scorer: agreement with the reference checker, the paper's accuracies, each instruction.

Targets checked here (data: tests/data/ifeval/, see its SOURCE.md):

- per-instruction agreement with the reference checker's results on GPT-4's released responses
  is at least 99.5 %, strict and loose;
- the paper's strict accuracies for GPT-4 (Table 3: prompt level 76.89 %, instruction level
  83.57 %) come out exactly, with key 2785 scored under its original one-placeholder wording;
- the loose accuracies and the exact list of disagreements are pinned.
"""

import json
from pathlib import Path

import pytest

from riskbench.errors import InputError
from riskbench.scorers._ifeval_text import count_capital_words, count_sentences, count_words
from riskbench.scorers.ifeval import IFEVAL_INSTRUCTIONS, check_instruction, score_ifeval

DATA = Path(__file__).parent / "data" / "ifeval"
SHINTO_KEY = 2785  # its prompt differs between input_data.jsonl and the response file


def _jsonl(name: str) -> list[dict]:
    with open(DATA / name, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="module")
def gpt4():
    """The 541 prompts with GPT-4's responses, and the reference results for 540 of them."""
    inputs = _jsonl("input_data.jsonl")
    responses = {r["prompt"]: r["response"]
                 for r in _jsonl("input_response_data_gpt4_20231107_145030.jsonl")}
    joined = [dict(r, response=responses[r["prompt"]]) for r in inputs if r["prompt"] in responses]
    assert len(inputs) == 541 and len(joined) == 540
    (shinto,) = [r for r in inputs if r["prompt"] not in responses]
    assert shinto["key"] == SHINTO_KEY
    reference = {mode: _jsonl(f"eval_results_{mode}.jsonl") for mode in ("strict", "loose")}
    for rows in reference.values():
        assert [r["prompt"] for r in rows] == [r["prompt"] for r in joined]
    ours = {mode: score_ifeval(joined, loose=mode == "loose") for mode in ("strict", "loose")}
    return {"inputs": inputs, "responses": responses, "joined": joined, "shinto": shinto,
            "reference": reference, "ours": ours}


def _disagreements(gpt4, mode):
    out = []
    for rec, mine, ref in zip(gpt4["joined"], gpt4["ours"][mode], gpt4["reference"][mode],
                              strict=True):
        for ident, a, b in zip(rec["instruction_id_list"], mine["follow_instruction_list"],
                               ref["follow_instruction_list"], strict=True):
            if a != b:
                out.append((rec["key"], ident, a))
    return out


def _totals(results):
    prompts = sum(r["follow_all_instructions"] for r in results)
    followed = sum(sum(r["follow_instruction_list"]) for r in results)
    return prompts, len(results), followed, sum(len(r["follow_instruction_list"]) for r in results)


# --- agreement with the reference checker ---------------------------------------------------

def test_instruction_level_agreement_is_at_least_99_5_percent(gpt4):
    for mode, expected_agree in (("strict", 832), ("loose", 830)):
        agree = 832 - len(_disagreements(gpt4, mode))
        assert agree == expected_agree
        assert agree / 832 >= 0.995


def test_exact_disagreements(gpt4):
    assert _disagreements(gpt4, "strict") == []
    # The reference checks only the letters a-z and silently checks a random letter for '#'
    # and '!'; its loose run drew passing letters, its strict run (and the paper's) failing
    # ones. Ours reports such instructions as not followed, in both protocols.
    assert _disagreements(gpt4, "loose") == [
        (1122, "keywords:letter_frequency", False),
        (1129, "keywords:letter_frequency", False),
    ]
    # Proof of the coin toss: key 1122's response is one line without asterisks, so every loose
    # variant is the strict text or blank, yet the reference's verdicts differ.
    index = [r["key"] for r in gpt4["joined"]].index(1122)
    response = gpt4["joined"][index]["response"]
    assert "\n" not in response and "*" not in response
    assert gpt4["reference"]["strict"][index]["follow_instruction_list"] == [True, False]
    assert gpt4["reference"]["loose"][index]["follow_instruction_list"] == [True, True]


def test_prompt_level_agreement(gpt4):
    for mode, expected in (("strict", 540), ("loose", 538)):
        agree = sum(a["follow_all_instructions"] == b["follow_all_instructions"]
                    for a, b in zip(gpt4["ours"][mode], gpt4["reference"][mode], strict=True))
        assert agree == expected


def test_output_records(gpt4):
    first = gpt4["ours"]["strict"][0]
    assert set(first) == {"key", "instruction_id_list", "follow_instruction_list",
                          "follow_all_instructions"}
    assert first["key"] == 1000
    assert first["instruction_id_list"] == gpt4["joined"][0]["instruction_id_list"]
    assert first["follow_instruction_list"] == [True, True, False]
    assert first["follow_all_instructions"] is False


# --- accuracies ---------------------------------------------------------------------------

def _with_shinto(gpt4, loose):
    """Key 2785 scored under its original wording: 'at least one placeholder'."""
    shinto = gpt4["shinto"]
    (original_prompt,) = [p for p in gpt4["responses"] if p.startswith("What is inside Shinto")]
    assert "at least one placeholder" in original_prompt
    assert shinto["kwargs"][1] == {"num_placeholders": 3}
    record = dict(shinto, prompt=original_prompt, response=gpt4["responses"][original_prompt],
                  kwargs=[shinto["kwargs"][0], {"num_placeholders": 1}])
    (result,) = score_ifeval([record], loose=loose)
    assert result["follow_instruction_list"] == [True, True]
    mode = "loose" if loose else "strict"
    return gpt4["ours"][mode] + [result]


def test_paper_strict_accuracies_reproduced_exactly(gpt4):
    # Zhou et al. 2023, Table 3, GPT-4: prompt-level strict 76.89, instruction-level 83.57
    prompts, n_prompts, followed, n_instructions = _totals(_with_shinto(gpt4, loose=False))
    assert (prompts, n_prompts, followed, n_instructions) == (416, 541, 697, 834)
    assert round(100 * prompts / n_prompts, 2) == 76.89
    assert round(100 * followed / n_instructions, 2) == 83.57
    # on the 540 prompts the reference scored, the reference's own figures
    assert _totals(gpt4["ours"]["strict"]) == _totals(gpt4["reference"]["strict"])
    assert _totals(gpt4["reference"]["strict"]) == (415, 540, 695, 832)


def test_loose_accuracies(gpt4):
    # The paper's loose figures (79.30, 85.37) do not come out of the reference's current
    # checker either (431/540 and 713/832 on its own results); ours differ from those by the
    # two random-letter instructions.
    assert _totals(gpt4["reference"]["loose"]) == (431, 540, 713, 832)
    assert _totals(gpt4["ours"]["loose"]) == (429, 540, 711, 832)
    prompts, n_prompts, followed, n_instructions = _totals(_with_shinto(gpt4, loose=True))
    assert (prompts, n_prompts, followed, n_instructions) == (430, 541, 713, 834)
    assert round(100 * prompts / n_prompts, 2) == 79.48
    assert round(100 * followed / n_instructions, 2) == 85.49


def test_shinto_prompt_as_released_fails_its_placeholders(gpt4):
    shinto = gpt4["shinto"]
    (prompt,) = [p for p in gpt4["responses"] if p.startswith("What is inside Shinto")]
    (result,) = score_ifeval([dict(shinto, response=gpt4["responses"][prompt])])
    assert result["follow_instruction_list"] == [True, False]  # only one placeholder, [address]


def test_every_instruction_type_of_ifeval_is_supported(gpt4):
    used = {i for r in gpt4["inputs"] for i in r["instruction_id_list"]}
    assert len(used) == 25
    assert set(IFEVAL_INSTRUCTIONS) == used


# --- one instruction at a time -----------------------------------------------------------

END = "Is there anything else I can help with?"
# (instruction id, kwargs, response, strict verdict, loose verdict)
CASES = [
    ("punctuation:no_comma", {}, "No commas at all.", True, True),
    ("punctuation:no_comma", {}, "One, two.", False, False),
    ("punctuation:no_comma", {}, "Sure, here it is:\nNo commas here.", False, True),
    ("length_constraints:number_words", {"num_words": 3, "relation": "at least"},
     "don't stop", True, True),  # \w+ splits "don't" in two
    ("length_constraints:number_words", {"num_words": 4, "relation": "less than"},
     "state-of-the-art", False, False),
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "at least"},
     "Hi there. How are you? Fine!", True, True),
    ("length_constraints:number_sentences", {"num_sentences": 2, "relation": "less than"},
     "Mr. Smith met Dr. Jones in Washington D.C. yesterday.", True, True),
    ("length_constraints:number_sentences", {"num_sentences": 2, "relation": "less than"},
     "A line without a period\nand another one\nthen a full stop.", True, True),
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "at least"},
     "Intro:\n* Item one. * Item two.", False, False),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "One.\n***\nTwo.", True,
     True),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2},
     "***\nOne.\n***\nTwo.\n***", True, True),  # dividers at the ends are tolerated
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2},
     "One.\n***\n***\nTwo.", False, False),  # an empty paragraph in between is not
    ("length_constraints:nth_paragraph_first_word",
     {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "Weekend"},
     "Plans.\n\n\"Weekend, at last!\" she said.", True, True),
    ("length_constraints:nth_paragraph_first_word",
     {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "weekend"},
     "Plans.\n\nWeekend.", False, False),
    ("length_constraints:nth_paragraph_first_word",
     {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "a"},
     "\n\nA start.\n\nB end.", False, True),  # the index counts the blank leading paragraph
    ("detectable_content:number_placeholders", {"num_placeholders": 2},
     "Dear [name], see you at [address].", True, True),
    ("detectable_content:number_placeholders", {"num_placeholders": 2},
     "Dear [name], see you at [add\nress].", False, False),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Bye.\n\np. s. Call me.",
     True, True),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Bye.\nP.S. Call me.",
     False, False),
    ("detectable_content:postscript", {"postscript_marker": "Note:"}, "Bye.\nNOTE: later.",
     True, True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 3},
     "**Title**\n* one\n  * two\n- three", True, True),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* one\n* two\n* three",
     False, True),
    ("detectable_format:constrained_response", {}, "Well... My answer is maybe.", True, True),
    ("detectable_format:constrained_response", {}, "my answer is yes.", False, False),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2},
     "*one* and **two**", True, True),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2},
     "*one* and * * and *tw\no*", False, False),
    ("detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 2},
     "SECTION 1\nText.\nSECTION 2\nMore.", True, True),
    ("detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 2},
     "Section 1\nText.\nSection 2\nMore.", False, False),  # case-sensitive
    ("detectable_format:json_format", {}, "```json\n{\"a\": [1, 2]}\n```", True, True),
    ("detectable_format:json_format", {}, "Here you go:\n{\"a\": 1}", False, True),
    ("detectable_format:title", {}, "<<A Poem of Joy>>\nLa la.", True, True),
    ("detectable_format:title", {}, "<<  >> and <<split\ntitle>>", False, False),
    ("keywords:existence", {"keywords": ["cat", "dog"]}, "CATS and hotdogs.", True, True),
    ("keywords:existence", {"keywords": ["cat", "bird"]}, "Cats only.", False, False),
    ("keywords:forbidden_words", {"forbidden_words": ["cat"]}, "Cats are fine.", True, True),
    ("keywords:forbidden_words", {"forbidden_words": ["cat", "dog"]}, "A DOG.", False, False),
    ("keywords:frequency", {"keyword": "war", "frequency": 2, "relation": "at least"},
     "War and warfare.", True, True),
    ("keywords:frequency", {"keyword": "war", "frequency": 2, "relation": "less than"},
     "War and warfare.", False, False),
    ("keywords:letter_frequency", {"letter": "A", "let_frequency": 3, "let_relation": "at least"},
     "Banana", True, True),
    ("keywords:letter_frequency",
     {"letter": "a", "let_frequency": 3, "let_relation": "less than"}, "Banana", False, False),
    ("keywords:letter_frequency", {"letter": "#", "let_frequency": 1, "let_relation": "at least"},
     "#one #two", False, False),  # outside a-z the reference checks a random letter
    ("language:response_language", {"language": "fr"},
     "Bonjour, je m'appelle Marie et j'habite à Paris depuis dix ans.", True, True),
    ("language:response_language", {"language": "de"},
     "Bonjour, je m'appelle Marie et j'habite à Paris depuis dix ans.", False, False),
    ("language:response_language", {"language": "de"}, "12345 !!!", True, True),  # no letters
    ("change_case:english_capital", {}, "THIS ANSWER IS WRITTEN IN ENGLISH, IN CAPITALS.",
     True, True),
    ("change_case:english_capital", {}, "THIS ANSWER IS WRITTEN IN ENGLISH, NEARLY all.",
     False, False),
    ("change_case:english_lowercase", {},
     "this whole answer is written in lower case english letters.", True, True),
    ("change_case:english_lowercase", {},
     "Sure! Here it is:\nthis whole answer is written in lower case english letters.",
     False, True),
    ("change_case:english_lowercase", {},
     "ceci est une réponse écrite entièrement en français, sans majuscules.", False, False),
    ("change_case:capital_word_frequency",
     {"capital_frequency": 6, "capital_relation": "at least"},
     "I DON'T like R&D, SAID Bob.", True, True),  # I, DO, N'T, R, D, SAID
    ("change_case:capital_word_frequency",
     {"capital_frequency": 1, "capital_relation": "less than"},
     "AI-DRIVEN, not AI-driven.", False, False),  # a hyphenated word is one token
    ("startend:end_checker", {"end_phrase": END}, f"Done.\n\"{END.lower()}\"  ", True, True),
    ("startend:end_checker", {"end_phrase": END}, f"Done.\n{END}\n(I hope so.)", False, True),
    ("startend:end_checker", {"end_phrase": END}, f"Done. **{END}**", False, True),
    ("startend:quotation", {}, "  \"Quoted.\"\n", True, True),
    ("startend:quotation", {}, "\"", False, False),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."},
     "write a poem. Roses are red.", True, True),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."},
     "Sure! Write a poem. Roses are red.", False, False),
    ("combination:two_responses", {}, "First.\n******\nSecond.", True, True),
    ("combination:two_responses", {}, "******\nFirst.\n******\nSecond.\n******", True, True),
    ("combination:two_responses", {}, "Same.\n******\nSame.", False, False),
    ("combination:two_responses", {}, "First.\n******\n******\nSecond.", False, False),
]


@pytest.mark.parametrize(("instruction_id", "kwargs", "response", "strict", "loose"), CASES)
def test_instruction(instruction_id, kwargs, response, strict, loose):
    assert check_instruction(instruction_id, kwargs, "a prompt", response) is strict
    assert check_instruction(instruction_id, kwargs, "a prompt", response, loose=True) is loose


def test_every_instruction_has_a_following_and_a_failing_case():
    for instruction_id in IFEVAL_INSTRUCTIONS:
        verdicts = {case[3] for case in CASES if case[0] == instruction_id}
        assert verdicts == {True, False}, instruction_id


def test_blank_response_never_follows():
    for loose in (False, True):
        assert not check_instruction("punctuation:no_comma", {}, "p", " \n ", loose=loose)
        assert not check_instruction("keywords:forbidden_words", {"forbidden_words": ["x"]},
                                     "p", "", loose=loose)


def test_loose_tries_all_eight_variants():
    # only removing both the first and the last line, and then the asterisks, passes
    response = "Intro\n**\"Quoted\"**\nOutro"
    assert not check_instruction("startend:quotation", {}, "p", response)
    assert check_instruction("startend:quotation", {}, "p", response, loose=True)


def test_score_ifeval_records():
    records = [
        {"key": 7, "prompt": "p", "response": "Yes, sure.",
         "instruction_id_list": ["punctuation:no_comma", "startend:end_checker"],
         "kwargs": [{}, {"end_phrase": "sure."}]},
        {"prompt": "p", "response": "Nope",
         "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
    ]
    assert score_ifeval(records) == [
        {"key": 7, "instruction_id_list": ["punctuation:no_comma", "startend:end_checker"],
         "follow_instruction_list": [False, True], "follow_all_instructions": False},
        {"key": None, "instruction_id_list": ["punctuation:no_comma"],
         "follow_instruction_list": [True], "follow_all_instructions": True},
    ]
    assert score_ifeval([]) == []


def test_null_kwargs_are_ignored():
    # the Hugging Face copy of IFEval lists every argument name, null where unused
    kwargs = {"num_words": 2, "relation": "at least", "keyword": None, "language": None}
    assert check_instruction("length_constraints:number_words", kwargs, "p", "two words")
    assert check_instruction("punctuation:no_comma", {"num_words": None}, "p", "ok")


# --- errors --------------------------------------------------------------------------------

def _message(func, *args, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        func(*args, **kwargs)
    return str(info.value)


def test_unknown_instruction_id_message():
    assert _message(check_instruction, "punctuation:no_commas", {}, "p", "r") == (
        "unknown IFEval instruction id 'punctuation:no_commas'; the supported ids are "
        "riskbench.scorers.ifeval.IFEVAL_INSTRUCTIONS")
    record = {"key": 12, "prompt": "p", "response": "r",
              "instruction_id_list": ["punctuation:no_comma", "bogus"], "kwargs": [{}, {}]}
    assert _message(score_ifeval, [record]) == (
        "record 0 (key 12): unknown IFEval instruction id 'bogus'; the supported ids are "
        "riskbench.scorers.ifeval.IFEVAL_INSTRUCTIONS")


@pytest.mark.parametrize(("instruction_id", "kwargs", "message"), [
    ("length_constraints:number_words", {"num_words": 3},
     "missing kwargs ['relation']"),
    ("punctuation:no_comma", {"num_words": 3},
     "unexpected kwargs ['num_words']; it takes none"),
    ("length_constraints:number_words", {"num_words": 3, "relation": "at most"},
     "relation must be 'less than' or 'at least', got 'at most'"),
    ("length_constraints:number_words", {"num_words": "3", "relation": "at least"},
     "num_words must be a non-negative integer, got '3'"),
    ("detectable_format:number_bullet_lists", {"num_bullets": True},
     "num_bullets must be a non-negative integer, got True"),
    ("length_constraints:nth_paragraph_first_word",
     {"num_paragraphs": 2, "nth_paragraph": 0, "first_word": "a"},
     "nth_paragraph counts from 1, got 0"),
    ("keywords:letter_frequency", {"letter": "ab", "let_frequency": 1, "let_relation": "at least"},
     "letter must be a single character, got 'ab'"),
    ("keywords:existence", {"keywords": "cat"},
     "keywords must be a non-empty list of non-empty strings, got 'cat'"),
    ("startend:end_checker", {"end_phrase": "  "},
     "end_phrase must be a non-blank string, got '  '"),
    ("language:response_language", {"language": "English"},
     "language must be a language code langdetect knows (such as 'en', 'fr', 'zh-cn'), got "
     "'English'"),
    ("punctuation:no_comma", [], "kwargs must be a mapping, got list"),
])
def test_malformed_kwargs_messages(instruction_id, kwargs, message):
    assert _message(check_instruction, instruction_id, kwargs, "p", "r") == (
        f"IFEval instruction '{instruction_id}': {message}")


def test_malformed_record_messages():
    assert _message(check_instruction, "punctuation:no_comma", {}, "p", None) == (
        "IFEval instruction 'punctuation:no_comma': response must be a string, got NoneType")
    assert _message(score_ifeval, [{"prompt": "p", "response": "r"}]) == (
        "record 0: missing field(s) ['instruction_id_list', 'kwargs']")
    record = {"key": "a", "prompt": "p", "response": "r",
              "instruction_id_list": ["punctuation:no_comma"], "kwargs": []}
    assert _message(score_ifeval, [record]) == (
        "record 0 (key a): instruction_id_list has 1 entries but kwargs has 0; give one kwargs "
        "mapping per instruction")


# --- the NLTK stand-ins --------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("", 0),
    ("no end mark", 1),
    ("One. Two? Three! Four", 4),
    ("A line\nwith breaks\n\nbut one end.", 1),
    # Punkt's documentation examples
    ("Punkt knows that the periods in Mr. Smith and Johann S. Bach\ndo not mark sentence "
     "boundaries.  And sometimes sentences\ncan start with non-capitalized words.  i is a good "
     "variable\nname.", 3),
    ("(How does it deal with this parenthesis?)  \"It should be part of the\nprevious "
     "sentence.\" \"(And the same with this one.)\" ('And this one!')\n\"('(And (this)) '?)\" "
     "[(and this. )]", 6),
    ("It costs $3.50 per kg. Cheap.", 2),
    ("See e.g. the list. Then stop.", 2),
    ("Fruit etc. The end.", 2),  # an abbreviation before a common sentence start
    ("1. First item\n2. second item", 2),  # a number before a lower-case word
    ("Wait... What? Hmm...", 3),
    ("Located in *o*. Please wait.", 2),  # a period after markup is a token of its own
    ("Ask J. Smith today.", 1),  # an initial before a name
])
def test_count_sentences(text, expected):
    assert count_sentences(text) == expected


def test_count_words_and_capital_words():
    assert count_words("It's a state-of-the-art, 3.5-star place!") == 11
    assert count_capital_words("I'M SO HAPPY, DON'T YOU THINK? R&D, USA/canada, CANNOT") == 12
    assert count_capital_words("“HELLO” and ‘WORLD’ x2 3D") == 3
