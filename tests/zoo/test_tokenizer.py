"""zoo.tokenizer on tiny WordPiece (BERT-style) and byte-level BPE (GPT-2-style) tokenizers built here."""
import json
import sys

import pytest

import framework as fw
import zoo
from zoo.tokenizer import Tokenizer, load_tokenizer

tokenizers = pytest.importorskip("tokenizers")

CORPUS = ["the quick brown fox jumps over the lazy dog", "a lazy dog sleeps", "quick thinking wins the day",
          "brown bread and brown rice", "the fox and the dog are friends"] * 20


@pytest.fixture(scope="module")
def wordpiece_dir(tmp_path_factory):
    from tokenizers import models, normalizers, pre_tokenizers, processors, decoders, trainers
    tok = tokenizers.Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=120, special_tokens=special))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.enable_padding(length=64, pad_token="[PAD]")  # pinned in the file, as some published ones are
    folder = tmp_path_factory.mktemp("wordpiece")
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 16}))
    (folder / "special_tokens_map.json").write_text(json.dumps(
        {"pad_token": "[PAD]", "cls_token": "[CLS]", "sep_token": "[SEP]", "unk_token": {"content": "[UNK]"}}))
    return folder


@pytest.fixture(scope="module")
def bpe_dir(tmp_path_factory):
    from tokenizers import models, pre_tokenizers, decoders, trainers
    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    folder = tmp_path_factory.mktemp("bpe")
    tok.save(str(folder / "tokenizer.json"))
    (folder / "special_tokens_map.json").write_text(json.dumps({"eos_token": "<|endoftext|>",
                                                                "bos_token": "<|endoftext|>"}))
    return folder


def test_wordpiece_encodes_like_the_library_and_round_trips(wordpiece_dir):
    tok = zoo.load_tokenizer(wordpiece_dir)
    raw = tokenizers.Tokenizer.from_file(str(wordpiece_dir / "tokenizer.json"))
    raw.no_padding()
    ids = tok.encode("The quick brown fox")
    assert ids == raw.encode("The quick brown fox").ids
    assert ids[0] == tok.token_to_id("[CLS]") and ids[-1] == tok.token_to_id("[SEP]")
    assert len(ids) < 64  # the file's fixed padding is not applied unless asked
    assert tok.decode(ids) == "the quick brown fox"
    assert tok.decode(fw.tensor(ids), skip_special_tokens=False).startswith("[CLS]")
    assert tok.pad_token_id == 0 and tok.special_token_id("unk_token") == tok.token_to_id("[UNK]")
    assert tok.model_max_length == 16 and tok.vocab_size == raw.get_vocab_size()


def test_batch_padding_masks_and_token_types(wordpiece_dir):
    tok = load_tokenizer(wordpiece_dir / "tokenizer.json")
    batch = tok(["a lazy dog", "the quick brown fox jumps"], text_pair=["fox", "dog"], padding=True,
                return_tensors="pt")
    short, long = tok.encode("a lazy dog", "fox"), tok.encode("the quick brown fox jumps", "dog")
    width = len(long)
    assert batch["input_ids"].shape == (2, width) and batch["input_ids"].dtype is fw.long
    assert batch["input_ids"][0].tolist() == short + [0] * (width - len(short))
    assert batch["attention_mask"][0].tolist() == [1] * len(short) + [0] * (width - len(short))
    types = batch["token_type_ids"][1].tolist()
    assert types == [0] * (len(long) - 2) + [1, 1]  # "dog [SEP]" is segment B
    left = tok(["a lazy dog", "the quick brown fox jumps"], padding=True, padding_side="left", return_tensors="pt")
    assert left["attention_mask"][0].tolist()[-1] == 1 and left["attention_mask"][0].tolist()[0] == 0
    assert tok.batch_decode(left["input_ids"]) == ["a lazy dog", "the quick brown fox jumps"]


def test_truncation_keeps_special_tokens_and_max_length_padding(wordpiece_dir):
    tok = load_tokenizer(wordpiece_dir)
    text = "the quick brown fox jumps over the lazy dog " * 3
    cut = tok(text, truncation=True, max_length=6)["input_ids"]
    assert len(cut) == 6 and cut[0] == tok.token_to_id("[CLS]") and cut[-1] == tok.token_to_id("[SEP]")
    assert len(tok(text, truncation=True)["input_ids"]) == 16  # model_max_length
    assert len(tok.encode(text)) > 16  # truncation is per call and off afterwards
    fixed = tok(["dog", "lazy dog"], padding="max_length", max_length=10, return_tensors="pt")
    assert fixed["input_ids"].shape == (2, 10)


def test_byte_level_bpe_round_trips_any_text(bpe_dir):
    tok = load_tokenizer(bpe_dir)
    for text in ["the lazy fox", "unseen wörds & emoji 🦊!", "  spaces\nnewline"]:
        ids = tok.encode(text)
        assert all(0 <= i < tok.vocab_size for i in ids)
        assert tok.decode(ids) == text
    assert tok.eos_token_id == tok.token_to_id("<|endoftext|>")
    assert tok.pad_token_id is None
    with pytest.raises(ValueError, match="no pad token"):
        tok(["a", "the lazy dog"], padding=True)
    tok.special_tokens["pad_token"] = "<|endoftext|>"
    batch = tok(["a", "the lazy dog"], padding=True, padding_side="left", return_tensors="pt")
    assert batch["input_ids"][0, 0].item() == tok.eos_token_id


def test_errors(wordpiece_dir, bpe_dir, tmp_path, monkeypatch):
    tok = load_tokenizer(wordpiece_dir)
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        load_tokenizer(tmp_path)
    with pytest.raises(ValueError, match="padding=True"):
        tok(["a", "the lazy dog"], return_tensors="pt")
    with pytest.raises(ValueError, match="padding"):
        tok("a", padding="sideways")
    with pytest.raises(NotImplementedError, match="return_tensors"):
        tok("a", return_tensors="np")
    with pytest.raises(ValueError, match="max_length"):
        load_tokenizer(bpe_dir)("a", truncation=True)
    with pytest.raises(ValueError, match="batch_decode"):
        tok.decode(fw.tensor([[1, 2]]))
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    with pytest.raises(ImportError, match="pip install tokenizers"):
        load_tokenizer(wordpiece_dir)


def test_wrapping_an_in_memory_tokenizer():
    from tokenizers import models
    tok = Tokenizer(tokenizers.Tokenizer(models.WordLevel({"[PAD]": 0, "hi": 1, "[UNK]": 2}, unk_token="[UNK]")),
                    {"pad_token": "[PAD]"})
    assert tok.encode("hi") == [1] and tok.pad_token_id == 0 and "WordLevel" in repr(tok)
