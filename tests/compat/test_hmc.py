"""Hybrid Monte Carlo: a leapfrog scan whose step takes the gradient of an energy, and a
Metropolis–Hastings accept with MRG_RandomStreams (deeplearning.net's hmc), sampling a
Gaussian whose mean the samples must find."""

from __future__ import annotations

import numpy as np
import theano
import theano.tensor as TT
from theano.sandbox.rng_mrg import MRG_RandomStreams
from twins import assert_same_values

import symbolic as S

DIM, CHAINS, LEAPFROG, STEPSIZE, SEED = 3, 16, 5, 0.25, 11
MU = np.array([1.0, -2.0, 0.5], "float32")


def energy(x, mu):
    return 0.5 * ((x - mu) ** 2).sum(axis=1)


def kinetic_energy(vel):
    return 0.5 * (vel**2).sum(axis=1)


def hamiltonian(pos, vel, energy_fn):
    return energy_fn(pos) + kinetic_energy(vel)


def metropolis_hastings_accept(energy_prev, energy_next, s_rng):
    ediff = energy_prev - energy_next
    return (TT.exp(ediff) - s_rng.uniform(size=energy_prev.shape)) >= 0


def simulate_dynamics(initial_pos, initial_vel, stepsize, n_steps, energy_fn):
    def leapfrog(pos, vel, step):
        dE_dpos = TT.grad(energy_fn(pos).sum(), pos)
        new_vel = vel - step * dE_dpos
        new_pos = pos + step * new_vel
        return [new_pos, new_vel], {}

    initial_energy = energy_fn(initial_pos)
    dE_dpos = TT.grad(initial_energy.sum(), initial_pos)
    vel_half_step = initial_vel - 0.5 * stepsize * dE_dpos
    pos_full_step = initial_pos + stepsize * vel_half_step
    (all_pos, all_vel), scan_updates = theano.scan(
        leapfrog,
        outputs_info=[dict(initial=pos_full_step), dict(initial=vel_half_step)],
        non_sequences=[stepsize],
        n_steps=n_steps - 1,
    )
    final_pos, final_vel = all_pos[-1], all_vel[-1]
    energy = energy_fn(final_pos)
    final_vel = final_vel - 0.5 * stepsize * TT.grad(energy.sum(), final_pos)
    return final_pos, final_vel


def hmc_move(s_rng, positions, energy_fn, stepsize, n_steps):
    initial_vel = s_rng.normal(size=positions.shape)
    final_pos, final_vel = simulate_dynamics(positions, initial_vel, stepsize, n_steps, energy_fn)
    accept = metropolis_hastings_accept(
        energy_prev=hamiltonian(positions, initial_vel, energy_fn),
        energy_next=hamiltonian(final_pos, final_vel, energy_fn),
        s_rng=s_rng,
    )
    return accept, final_pos


def theano_program():
    positions = theano.shared(np.zeros((CHAINS, DIM), dtype=theano.config.floatX))
    stepsize = theano.shared(np.float32(STEPSIZE))
    s_rng = MRG_RandomStreams(SEED)
    accept, final_pos = hmc_move(s_rng, positions, lambda x: energy(x, MU), stepsize, LEAPFROG)
    new_positions = TT.switch(accept.dimshuffle(0, "x"), final_pos, positions)
    simulate = theano.function(
        [], [accept.mean(dtype="float32"), new_positions], updates=[(positions, new_positions)]
    )
    return [simulate() for _ in range(60)]


def symbolic_program(device):
    positions = S.shared(np.zeros((CHAINS, DIM), np.float32))
    stepsize = S.shared(np.float32(STEPSIZE))
    rng = S.RandomStream(SEED)

    def grad_energy(p):
        return S.grad(energy(p, MU).sum(), p)

    def leapfrog(pos, vel, step):
        new_vel = vel - step * grad_energy(pos)
        return [pos + step * new_vel, new_vel]

    vel0 = rng.normal(positions.shape)
    vel = vel0 - 0.5 * stepsize * grad_energy(positions)
    pos = positions + stepsize * vel
    (all_pos, all_vel), _ = S.scan(leapfrog, outputs_info=[pos, vel], non_sequences=stepsize,
                                   n_steps=LEAPFROG - 1)  # fmt: skip
    final_pos = all_pos[-1]
    final_vel = all_vel[-1] - 0.5 * stepsize * grad_energy(final_pos)
    before = energy(positions, MU) + kinetic_energy(vel0)
    after = energy(final_pos, MU) + kinetic_energy(final_vel)
    accept = (S.exp(before - after) - rng.uniform(before.shape)) >= 0
    new_positions = S.where(accept.dimshuffle(0, "x"), final_pos, positions)
    simulate = S.compile([], [accept.mean(dtype="float32"), new_positions],
                         updates=[(positions, new_positions)], device=device)  # fmt: skip
    return [simulate() for _ in range(60)]


def test_hmc_finds_the_mean_and_matches_symbolic(theano_device):
    moves = theano_program()
    samples = np.concatenate([pos for _, pos in moves[20:]])
    np.testing.assert_allclose(samples.mean(axis=0), MU, atol=0.25)
    assert np.mean([rate for rate, _ in moves]) > 0.5
    want = symbolic_program(theano_device)
    assert_same_values([np.array([r for r, _ in moves]), moves[-1][1]],
                       [np.array([r for r, _ in want]), want[-1][1]], theano_device)  # fmt: skip
