"""The compiled page-request loop: retrieval -> pre-ranking -> cut -> ranking -> re-ranking ->
the user's response, for every active user of a cohort on one day.

One call per (cohort, day) runs every page of every active user, so the per-request work is a
few thousand compiled operations instead of dozens of numpy calls (numba, single-threaded).
Every random number is a hash of (user key, day, page, slot) - counter-based, like the rest of
the simulator - so a user's outcome does not depend on who else is simulated alongside.

The scoring forms are documented in `stages.py`, the behaviour constants in `behavior.py`.
"""

from __future__ import annotations

from dataclasses import fields

import numba as nb
import numpy as np

from rectune.simulator.behavior import MAX_PAGES, BehaviorParams
from rectune.simulator.heads import PAIR_BITS
from rectune.simulator.metrics import Col
from rectune.simulator.stages import RERANK_WINDOW
from rectune.simulator.world import PAGE_SIZE, RETRIEVED

__all__ = ["serve_day"]

_P = {f.name: i for i, f in enumerate(fields(BehaviorParams))}
B_CLICK_BASE = _P["click_base"]
B_CLICK_AFF = _P["click_affinity"]
B_CLICK_Q = _P["click_quality"]
B_CLICK_BAIT = _P["click_bait"]
B_CLICK_FRESH = _P["click_fresh"]
B_FAT_SCALE = _P["fatigue_scale"]
B_FAT_ONSET = _P["fatigue_onset"]
B_DWELL_BAIT = _P["dwell_bait"]
B_DWELL_NOISE = _P["dwell_noise"]
B_NEG_BASE = _P["neg_base"]
B_NEG_BAIT = _P["neg_bait_click"]
B_NEG_OVER = _P["neg_overload"]
B_U_CLICK = _P["util_click"]
B_U_LIKE = _P["util_like"]
B_U_SHARE = _P["util_share"]
B_U_NEG = _P["util_neg"]
B_U_FAT = _P["util_fatigue"]
B_U_SCALE = _P["util_scale"]
B_CONT = _P["continue_gain"]
B_CHANGE = _P["change_scale"]

C_REQ = int(Col.REQUESTS)
C_IMP = int(Col.IMPRESSIONS)
C_CLK = int(Col.CLICKS)
C_DWL = int(Col.DWELL)
C_NEG = int(Col.NEGATIVES)
C_COST = int(Col.COST)
C_LIKE = int(Col.LIKES)

K = RETRIEVED
W = RERANK_WINDOW
P = PAGE_SIZE
MAXP = MAX_PAGES
M32 = np.uint64(0xFFFFFFFF)
PAIR_SHIFT = np.uint64(64 - PAIR_BITS)
POSITION = (1.0 / (1.0 + 0.12 * np.arange(PAGE_SIZE))).astype(np.float32)

# Sigmoid and log-sigmoid by table lookup with linear interpolation over [-16, 16]: exact to
# about 1e-6, several times cheaper than exp/log in the inner loops.
_T_LO, _T_HI, _T_N = -16.0, 16.0, 8192
_T_STEP = (_T_HI - _T_LO) / (_T_N - 1)
_T_X = np.linspace(_T_LO, _T_HI, _T_N)
SIG_TABLE = (1.0 / (1.0 + np.exp(-_T_X))).astype(np.float32)
LOGSIG_TABLE = (-np.log1p(np.exp(-_T_X))).astype(np.float32)


@nb.njit(inline="always")
def _mix(x: np.uint64) -> np.uint64:
    x = x & M32
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & M32
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & M32
    x ^= x >> np.uint64(16)
    return x


@nb.njit(inline="always")
def _unif(h: np.uint64) -> float:
    return float(h >> np.uint64(8)) * (1.0 / 16777216.0) + 0.5 / 16777216.0


@nb.njit(inline="always")
def _lookup(table: np.ndarray, x: float, below: float, above: float) -> float:
    """Linear interpolation in a table over [-16, 16]; `below`/`above` outside it."""
    f = (x - _T_LO) / _T_STEP
    if f <= 0.0:
        return below
    if f >= _T_N - 1:
        return above
    i = int(f)
    w = f - i
    return float(table[i] * (1.0 - w) + table[i + 1] * w)


@nb.njit(inline="always")
def _sig(x: float) -> float:
    return _lookup(SIG_TABLE, x, 0.0, 1.0)


@nb.njit(inline="always")
def _logsig(x: float) -> float:
    return _lookup(LOGSIG_TABLE, x, x, 0.0)


@nb.njit(inline="always")
def _mix64(x: np.uint64) -> np.uint64:
    # splitmix64's finaliser; uint64 arithmetic wraps, which is what a hash wants.
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


@nb.njit(inline="always")
def _pair(ukey: np.uint64, item: int, salt: np.uint64) -> int:
    h = (np.uint64(item) * np.uint64(0x9E3779B97F4A7C15)) ^ (ukey + salt)
    h *= np.uint64(0xD6E8FEB86659FD93)
    return int(h >> PAIR_SHIFT)


_BINS = 128


@nb.njit(inline="always")
def _bin(v: float, lo: float, scale: float) -> int:
    b = int((v - lo) * scale)
    return min(max(b, 0), _BINS - 1)


@nb.njit
def _select_top(
    vals: np.ndarray, out: np.ndarray, n: int, k: int, counts: np.ndarray, edge: np.ndarray
) -> None:
    """Write into out[:k] the indices of the k largest of vals[:n] (in no particular order).

    A histogram finds the bin holding the k-th largest value, then one branch-free pass
    collects everything above it and a tiny insertion sort settles that bin. Comparison-based
    selection (quickselect) mispredicts half of its branches on random scores and costs five
    times as much here.
    """
    lo = vals[0]
    hi = vals[0]
    for i in range(1, n):
        lo = min(lo, vals[i])
        hi = max(hi, vals[i])
    if hi <= lo:
        for i in range(k):
            out[i] = i
        return
    scale = (_BINS - 1e-3) / (hi - lo)
    for b in range(_BINS):
        counts[b] = 0
    for i in range(n):
        counts[_bin(vals[i], lo, scale)] += 1
    above = 0
    cut = _BINS - 1
    while cut > 0 and above + counts[cut] < k:
        above += counts[cut]
        cut -= 1
    m = 0
    e = 0
    for i in range(n):
        b = _bin(vals[i], lo, scale)
        out[m] = i
        m += b > cut
        edge[e] = i
        e += b == cut
    # The `k - above` largest of the edge bin, by insertion sort (it holds a handful).
    for a in range(1, e):
        x = edge[a]
        c = a - 1
        while c >= 0 and vals[edge[c]] < vals[x]:
            edge[c + 1] = edge[c]
            c -= 1
        edge[c + 1] = x
    for a in range(k - above):
        out[above + a] = edge[a]


@nb.njit(cache=True, fastmath=True)
def serve_day(  # type: ignore[no-untyped-def]  # numba types the arguments
    rows, day_key, ukey, slot_range, slot_aff, aff, top_topics,
    activity, bait_sens, fatigue_sens, quality_sens, dwell_scale, change_gain, habit, exposure,
    topic, creator, quality, clickbait, length, fresh, share_p, item_pack, pre_pair, rank_pair,
    true_match, topic_sim,
    n_topics, pre_aff, cut, w_click, w_aff, lam, tcap, ccap, pen, fthr, shock, bp,
    agg, util_sum, pages, topics_seen, feat_sum,
):
    """Serve every page of every user in `rows` for one day; returns the page requests."""
    cand = np.empty(K, np.int64)
    cand_aff = np.empty(K, np.float32)
    val = np.empty(K, np.float32)
    order = np.empty(K, np.int64)
    rscore = np.empty(K, np.float32)
    rorder = np.empty(K, np.int64)
    witem = np.empty(W, np.int64)
    wtopic = np.empty(W, np.int64)
    wcreator = np.empty(W, np.int64)
    wscore = np.empty(W, np.float32)
    red = np.empty(W, np.float64)
    taken = np.empty(W, np.float64)
    topic_n = np.zeros(n_topics, np.float64)
    page = np.empty(P, np.int64)
    counts = np.empty(_BINS, np.int64)
    edge = np.empty(K, np.int64)
    wcidx = np.empty(W, np.int64)
    wexp = np.empty(W, np.float64)
    creator_n = np.zeros(W, np.float64)
    base = np.empty(W, np.float64)
    pair_salt_pre = np.uint64(0x51ED)
    pair_salt_rank = np.uint64(0x7A3)
    c_take = min(cut, K)
    requests = 0
    for r in range(rows.shape[0]):
        u = rows[r]
        uk = ukey[u]
        for pg in range(MAXP):
            requests += 1
            rkey = _mix(day_key[u] + np.uint64(pg) * np.uint64(0x2545F491))
            # Retrieval: a slot of the user's interest table (a topic) and an item of it, two
            # candidates from each 64-bit hash.
            for k2 in range(K // 2):
                h64 = _mix64(rkey + np.uint64(k2) * np.uint64(0x9E3779B97F4A7C15))
                for half in range(2):
                    k = 2 * k2 + half
                    h = (h64 >> np.uint64(32 * half)) & M32
                    s = int(h >> np.uint64(26))
                    packed = slot_range[u, s]
                    start = int(packed & np.uint32(0xFFFF))
                    size = int(packed >> np.uint32(16))
                    item = start + ((int(h & np.uint64(0xFFFF)) * size) >> 16)
                    a_hat = slot_aff[u, s]
                    cand[k] = item
                    cand_aff[k] = a_hat
                    err = pre_pair[_pair(uk, item, pair_salt_pre)]
                    val[k] = pre_aff * a_hat + item_pack[item, 0] + err
                    order[k] = k
            # Pre-ranking cut.
            if c_take < K:
                _select_top(val, order, K, c_take, counts, edge)
            cost_sum = 0.0
            for j in range(c_take):
                k = order[j]
                item = cand[k]
                a_hat = cand_aff[k]
                est = rank_pair[_pair(uk, item, pair_salt_rank)]
                lpc = _logsig(item_pack[item, 1] + 0.9 * a_hat + est)
                rscore[j] = w_click * lpc + item_pack[item, 2] + w_aff * a_hat
                rorder[j] = j
                cost_sum += item_pack[item, 3]
            width = min(W, c_take)
            if width < c_take:
                _select_top(rscore, rorder, c_take, width, counts, edge)
            for j in range(width):
                jj = rorder[j]
                item = cand[order[jj]]
                witem[j] = item
                wtopic[j] = topic[item]
                wcreator[j] = creator[item]
                wscore[j] = rscore[jj]
                wexp[j] = exposure[u, wtopic[j]] - (fthr - 1.0)
                red[j] = 0.0
                taken[j] = 0.0
            # Creators of the window as small indices, so the cap check is one lookup.
            for j in range(width):
                wcidx[j] = j
                for q in range(j):
                    if wcreator[q] == wcreator[j]:
                        wcidx[j] = wcidx[q]
                        break
                creator_n[j] = 0.0
            for t in range(n_topics):
                topic_n[t] = 0.0
            # Re-ranking: greedy MMR with caps and a fatigue penalty, score in nats.
            for j in range(width):
                base[j] = (1.0 - lam) * wscore[j]
            # Branch-free inner loop: random taken/over/blocked branches mispredict half the
            # time and made this loop the kernel's most expensive part.
            for slot in range(P):
                best = 0
                best_v = -1e30
                for j in range(width):
                    t = wtopic[j]
                    over = max(wexp[j] + topic_n[t], 0.0)
                    blocked = (topic_n[t] >= tcap) | (creator_n[wcidx[j]] >= ccap)
                    v = base[j] - lam * red[j] - pen * over - 1e3 * blocked
                    v -= 1e6 * taken[j]
                    better = v > best_v
                    best = j if better else best
                    best_v = v if better else best_v
                page[slot] = best
                creator_n[wcidx[best]] += 1.0
                t_sel = wtopic[best]
                topic_n[t_sel] += 1.0
                it_sel = witem[best]
                row = t_sel * n_topics
                for j in range(width):
                    taken[j] = max(taken[j], 1.0 if witem[j] == it_sel else 0.0)
                    red[j] = max(red[j], topic_sim[row + wtopic[j]])
            # The change of today's pages versus the user's habit (novelty / primacy): mean
            # clickbait and (a quarter weight: caps move it mechanically) topic
            # concentration of the pages seen so far today (a running mean, so one unusual
            # page is not a change). Freshness is not a change users notice as such: it
            # already has its own appeal.
            xb = 0.0
            for t in range(n_topics):
                topic_n[t] = 0.0
            top = 0.0
            for slot in range(P):
                it = witem[page[slot]]
                xb += clickbait[it]
                t = wtopic[page[slot]]
                topic_n[t] += 1.0
                top = max(top, topic_n[t])
            feat_sum[u, 0] += xb / P
            feat_sum[u, 1] += top / P
            change = 0.0
            if habit[u, 0] >= 0.0:
                k_seen = pg + 1.0
                change = bp[B_CHANGE] * (
                    abs(feat_sum[u, 0] / k_seen - habit[u, 0])
                    + 0.25 * abs(feat_sum[u, 1] / k_seen - habit[u, 1])
                )
            # The user's response.
            for t in range(n_topics):
                topic_n[t] = 0.0
            n_click = 0
            n_like = 0
            n_share = 0
            n_neg = 0
            dwell_sum = 0.0
            fat_sum = 0.0
            seen_bits = np.uint32(0)
            for slot in range(P):
                jj = page[slot]
                it = witem[jj]
                t = wtopic[jj]
                a = aff[u, t]
                seen = exposure[u, t] + topic_n[t]
                topic_n[t] += 1.0
                over = seen - bp[B_FAT_ONSET]
                fat = 0.0
                if over > 0.0:
                    fat = bp[B_FAT_SCALE] * fatigue_sens[u] * over
                m = true_match[_pair(uk, it, pair_salt_rank)]
                b = clickbait[it]
                q = quality[it]
                logit = (
                    bp[B_CLICK_BASE] + bp[B_CLICK_AFF] * a + bp[B_CLICK_Q] * q
                    + bp[B_CLICK_BAIT] * b * bait_sens[u] + bp[B_CLICK_FRESH] * fresh[it]
                    + m - fat + change_gain[u] * change + shock
                )
                hk = _mix(rkey ^ (np.uint64(slot + 1) * np.uint64(0x27D4EB2F)))
                clicked = _unif(_mix(hk + np.uint64(1))) < _sig(logit) * POSITION[slot]
                if clicked:
                    n_click += 1
                    seen_bits |= np.uint32(1) << np.uint32(t)
                    uu = _unif(_mix(hk + np.uint64(2)))
                    z = 0.55 * np.log(uu / (1.0 - uu))
                    dw = length[it] * dwell_scale[u] * np.exp(
                        quality_sens[u] * q - bp[B_DWELL_BAIT] * b + 0.2 * a
                        + bp[B_DWELL_NOISE] * z
                    )
                    dwell_sum += dw
                    p_like = _sig(-2.0 + 0.8 * q + 0.3 * a - b + 0.5 * m)
                    if _unif(_mix(hk + np.uint64(3))) < p_like:
                        n_like += 1
                    if _unif(_mix(hk + np.uint64(4))) < share_p[it] * 1.2:
                        n_share += 1
                over_n = max(seen - bp[B_FAT_ONSET], 0.0)
                neg_logit = (
                    bp[B_NEG_BASE] + bp[B_NEG_BAIT] * b * (1.0 if clicked else 0.0)
                    + bp[B_NEG_OVER] * over_n - 0.4 * a
                )
                if _unif(_mix(hk + np.uint64(5))) < _sig(neg_logit):
                    n_neg += 1
                fat_sum += fat
            for slot in range(P):
                exposure[u, wtopic[page[slot]]] += 1.0
            utility = (
                dwell_sum / 35.0 + bp[B_U_CLICK] * n_click + bp[B_U_LIKE] * n_like
                + bp[B_U_SHARE] * n_share - bp[B_U_NEG] * n_neg - bp[B_U_FAT] * fat_sum
            ) / bp[B_U_SCALE]
            agg[u, C_REQ] += 1.0
            agg[u, C_IMP] += P
            agg[u, C_CLK] += n_click
            agg[u, C_DWL] += dwell_sum
            agg[u, C_NEG] += n_neg
            agg[u, C_COST] += cost_sum
            agg[u, C_LIKE] += n_like
            topics_seen[u] |= seen_bits
            util_sum[u] += utility
            pages[u] += 1.0
            p_cont = _sig(activity[u] + bp[B_CONT] * (utility - 1.0))
            if _unif(_mix(rkey ^ np.uint64(0x5BD1E995))) >= p_cont:
                break
    return requests
