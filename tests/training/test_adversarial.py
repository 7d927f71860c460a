"""The shared adversarial update (speechgen.training.adversarial): weighted sums, freezing, which optimiser step is
counted, finite checks before any step, and the joint update's own-loss-only gradients."""

import pytest
import torch
from torch import nn

from speechgen.training.adversarial import AdversarialUpdate, frozen, weighted_sum
from speechgen.training.optim import NonFiniteLossError, OptimConfig


class CountingOptimizer:
    """A stand-in for Lightning's optimiser wrapper: ``step()`` counts, ``optimizer.step()`` is the raw one."""

    def __init__(self, params, lr=0.1):
        self.optimizer = torch.optim.SGD(params, lr=lr)
        self.counted = 0

    def step(self):
        self.counted += 1
        self.optimizer.step()

    def zero_grad(self, set_to_none=True):
        self.optimizer.zero_grad(set_to_none=set_to_none)


class FakeModule:
    """The LightningModule calls the update makes: optimizers(), manual_backward, clip_gradients, schedules."""

    def __init__(self, nets, clip=0.0):
        self.opts = [CountingOptimizer(n.parameters()) for n in nets]
        self.global_step = 0
        self.clipped = []
        self.schedules = [torch.optim.lr_scheduler.LambdaLR(o.optimizer, lambda s: 1.0) for o in self.opts]

    def optimizers(self):
        return self.opts

    def lr_schedulers(self):
        return self.schedules

    def manual_backward(self, loss, **kwargs):
        loss.backward(**kwargs)

    def clip_gradients(self, opt, gradient_clip_val, gradient_clip_algorithm):
        self.clipped.append((self.opts.index(opt), gradient_clip_val, gradient_clip_algorithm))


def test_weighted_sum_follows_the_weights():
    parts = {"a": torch.tensor(2.0), "b": torch.tensor(3.0), "logged": torch.tensor(100.0)}
    assert float(weighted_sum(parts, {"a": 1.0, "b": 0.5})) == 3.5
    assert float(weighted_sum(parts, {"a": 0.0, "b": 2.0, "missing": 7.0})) == 6.0
    assert weighted_sum(parts, {"a": 1.0}) is parts["a"]  # weight 1 adds the part itself
    with pytest.raises(ValueError, match="no weighted part"):
        weighted_sum(parts, {"a": 0.0})


def test_frozen_restores_on_error():
    net = nn.Linear(2, 2)
    with pytest.raises(RuntimeError):
        with frozen(net, None):
            assert not any(p.requires_grad for p in net.parameters())
            raise RuntimeError("boom")
    assert all(p.requires_grad for p in net.parameters())


def test_critic_step_is_raw_and_generator_step_is_counted():
    gen, critic = nn.Linear(2, 1), nn.Linear(1, 1)
    module = FakeModule([gen, critic])
    update = AdversarialUpdate(module, critic, [OptimConfig(grad_clip=1.0), OptimConfig()])
    x = torch.randn(4, 2)
    before = critic.weight.detach().clone()
    update.critic_step(critic(gen(x).detach()).pow(2).mean(), {"d_loss": torch.tensor(0.0)})
    assert module.opts[1].counted == 0 and not torch.equal(before, critic.weight)  # stepped, not counted
    seen = {}

    def losses():
        seen["critic_trainable"] = any(p.requires_grad for p in critic.parameters())
        loss = critic(gen(x)).mean()
        return loss, {"g_loss": loss}

    critic_before, grad_before = critic.weight.detach().clone(), critic.weight.grad.clone()
    update.generator_step(losses)
    assert seen["critic_trainable"] is False and all(p.requires_grad for p in critic.parameters())
    assert torch.equal(grad_before, critic.weight.grad) and torch.equal(critic_before, critic.weight)  # untouched
    assert module.opts[0].counted == 1
    assert module.clipped == [(0, 1.0, "norm")]  # only the section with grad_clip > 0 clips
    update.step_schedules()
    assert all(s.last_epoch == 1 for s in module.schedules)


def test_non_finite_losses_stop_before_any_step():
    gen, critic = nn.Linear(2, 1), nn.Linear(1, 1)
    module = FakeModule([gen, critic])
    module.global_step = 7
    update = AdversarialUpdate(module, critic, [OptimConfig(), OptimConfig()])
    w = critic.weight.detach().clone()
    bad = critic(torch.ones(1, 1)).sum() * float("nan")
    with pytest.raises(NonFiniteLossError, match=r"^step 7: loss 'd_loss' is nan"):
        update.critic_step(bad, {"d_loss": bad})
    assert torch.equal(w, critic.weight)
    with pytest.raises(NonFiniteLossError, match="loss 'adv' is inf"):
        update.generator_step(lambda: (gen(torch.ones(1, 2)).sum(), {"adv": torch.tensor(float("inf"))}))
    assert module.opts[0].counted == 0


def test_joint_step_gives_each_network_its_own_loss_only():
    a, b = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    for net in (a, b):
        nn.init.constant_(net.weight, 1.0)
    module = FakeModule([a, b])
    update = AdversarialUpdate(module, None, [OptimConfig(), OptimConfig()], counted=1)
    y = b(a(torch.ones(1, 1)))  # y = wa * wb
    loss_a, loss_b = y.sum(), (3.0 * y).sum()  # d loss_a / d wa = wb = 1; d loss_b / d wb = 3 wa = 3
    update.joint_step([(0, loss_a, a), (1, loss_b, b)], {"y": y.sum()})
    assert float(a.weight) == pytest.approx(1.0 - 0.1 * 1.0)
    assert float(b.weight) == pytest.approx(1.0 - 0.1 * 3.0)
    assert [o.counted for o in module.opts] == [0, 1]
