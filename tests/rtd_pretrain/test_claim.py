"""The paper's embedding-sharing claim at small scale (seeded synthetic synonym corpus).

MLM wants synonyms close, RTD must tell in-cluster replacements apart: with one shared table
(ES) the λ-weighted RTD gradient drags the generator's embeddings, so its MLM loss at a
matched step is worse than with separate tables (NES) or GDES; and GDES keeps the
discriminator's embeddings close to the generator's, NES does not.
"""

import pytest
import torch
from rtd_pretrain import SynonymCorpus, corpus_tokenizer, embedding_stats, sentence_rows
from rtd_pretrain.experiment import (
    discriminator_config,
    evaluate_discriminator,
    fixed_corruption,
    heldout_mlm_loss,
    pretrain_arm,
)
from rtd_pretrain.sharing import discriminator_table

STEPS = 300


@pytest.mark.claim
def test_es_tug_of_war_hurts_mlm_and_gdes_keeps_embeddings_close():
    torch.set_num_threads(1)
    corpus = SynonymCorpus()
    tok = corpus_tokenizer(corpus.words, vocab_size=1000)
    rows = sentence_rows(corpus.sentences(3000, seed=1), tok)
    held = sentence_rows(corpus.sentences(200, seed=9), tok)
    clusters = [[tok.convert_tokens_to_ids(w) for w in g] for g in corpus.clusters()]
    members = torch.tensor(clusters)
    cluster_of = torch.zeros(len(tok), dtype=torch.long)
    for k, group in enumerate(clusters):
        cluster_of[torch.tensor(group)] = k

    def synonym(orig, gen):  # the frozen reference corruption: a random in-cluster synonym
        return members[cluster_of[orig], torch.randint(members.shape[1], orig.shape, generator=gen)]

    eval_set = fixed_corruption(held, tok, synonym)
    cfg = discriminator_config("deberta", len(tok), hidden_size=64, num_layers=2)
    real = sorted(i for g in clusters for i in g)
    res = {}
    for sharing in ("nes", "es", "gdes"):
        arm = pretrain_arm(sharing, rows, tok, cfg, STEPS, seed=0, learning_rate=3e-3,
                           logging_steps=STEPS)  # fmt: skip
        e_g = arm.model.generator.get_input_embeddings().weight
        stats = embedding_stats(e_g, discriminator_table(arm.model.discriminator), real)
        res[sharing] = {
            "mlm": heldout_mlm_loss(arm.model, eval_set),
            "row_cos": stats.gd_row_cos,
            **evaluate_discriminator(arm.model, eval_set),
        }
    msg = str(res)
    # the tug-of-war: ES's generator is worse at MLM than NES's and GDES's at the same step
    assert res["es"]["mlm"] > res["nes"]["mlm"] + 0.05, msg
    assert res["es"]["mlm"] > res["gdes"]["mlm"] + 0.05, msg
    # GDES's discriminator embeddings stay close to the generator's; NES's are unrelated
    assert res["gdes"]["row_cos"] > res["nes"]["row_cos"] + 0.3, msg
    assert res["es"]["row_cos"] > 0.999, msg
    # RTD AUC on the fixed synonym corruption is not asserted: at 300 steps it varies between
    # arms and seeds (0.51-0.75 measured); `rtd-pretrain reproduce` reports it over seeds.
