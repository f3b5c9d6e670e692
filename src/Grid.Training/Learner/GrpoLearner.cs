using System.Diagnostics;
using Grid.Learning.Objective;
using Grid.Policy.Checkpoints;
using Grid.Policy.Model;
using Grid.Policy.Scoring;
using Grid.Training.Rollouts;
using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Training.Learner;

/// <summary>
/// Turns one step's scored groups into one GRPO-D update (docs/algorithm.md section 3): reference and policy
/// log-probs, the clipped objective with beta * k3 KL, gradient clipping, AdamW. A non-finite loss or gradient
/// skips the update and leaves the weights and optimizer state untouched. Synchronous: call it from the thread
/// that owns the policy, never across an await.
/// </summary>
public sealed class GrpoLearner : IDisposable
{
    private readonly PolicyModel _policy;
    private readonly PolicyModel _reference;
    private readonly optim.Optimizer _optimizer;
    private readonly GrpoLossSettings _lossSettings;
    private readonly double _maxGradNorm;
    private readonly SizedBuffer _stateBuffer = new(); // the state has the same size at every step

    /// <param name="policy">The trainable policy; updated in place.</param>
    /// <param name="reference">The frozen reference policy (pi_ref); never updated.</param>
    public GrpoLearner(PolicyModel policy, PolicyModel reference, GrpoLossSettings lossSettings,
        double learningRate, double weightDecay, double maxGradNorm)
    {
        _policy = policy;
        _reference = reference;
        _reference.eval();
        foreach (var p in _reference.parameters())
        {
            p.requires_grad = false;
        }

        _lossSettings = lossSettings;
        _maxGradNorm = maxGradNorm;
        _optimizer = optim.AdamW(_policy.TrainableParameters(), lr: learningRate, weight_decay: weightDecay);
    }

    /// <summary>Updates applied so far (skipped ones not counted).</summary>
    public long UpdatesApplied { get; private set; }

    /// <summary>Updates refused because the loss or gradient was not finite.</summary>
    public long UpdatesSkipped { get; private set; }

    public optim.Optimizer Optimizer => _optimizer;

    /// <summary>
    /// The optimizer's whole state (AdamW's per-parameter step counts and both moments, the hyper-parameters) plus
    /// the update counters, as bytes (<see cref="OptimizerStateFormat"/>). A learner restored from these bytes and
    /// the same weights makes bit-for-bit the updates this one would have made.
    /// </summary>
    public byte[] SaveOptimizerState() => OptimizerStateFormat.Write(Helper, UpdatesApplied, UpdatesSkipped, _stateBuffer);

    /// <summary>
    /// Restores what <see cref="SaveOptimizerState"/> wrote; refuses state of another optimizer or of differently
    /// shaped parameters (the run's model settings changed) with an <see cref="InvalidDataException"/>.
    /// </summary>
    public void LoadOptimizerState(byte[] state)
    {
        (UpdatesApplied, UpdatesSkipped) = OptimizerStateFormat.Read(Helper, state);
    }

    private TorchSharp.Modules.OptimizerHelper Helper => (TorchSharp.Modules.OptimizerHelper)_optimizer;

    /// <summary>
    /// One update from <paramref name="groups"/> with <paramref name="beta"/>. <paramref name="proximalVersion"/> is the
    /// version of the policy being updated: groups a version older than it sampled (<see cref="ScoredGroup.SamplingVersion"/>)
    /// have their tokens reweighted by pi_prox / pi_behav from the log-probs recorded at sampling, through the decoupled
    /// objective (docs/algorithm.md section 9); every other row keeps weight 1 exactly, so an update with no older group
    /// (and every update without <paramref name="proximalVersion"/>) is the synchronous one bit for bit.
    /// </summary>
    public LearnerStepReport Update(IReadOnlyList<ScoredGroup> groups, double beta, long? proximalVersion = null)
    {
        if (groups.Count == 0)
        {
            throw new ArgumentException("A GRPO-D update needs at least one scored group.", nameof(groups));
        }

        using var scope = NewDisposeScope();
        var images = groups.SelectMany(g => g.Rollouts.Select(_ => g.Prompt.Image)).ToArray();
        var prompts = groups.SelectMany(g => g.Rollouts.Select(_ => g.PromptTokens)).ToArray();
        var completions = groups.SelectMany(g => g.Rollouts.Select(r => r.CompletionTokens)).ToArray();
        var advantages = tensor(groups.SelectMany(g => g.Advantages).Select(a => (float)a).ToArray(), device: _policy.Device);

        var clock = Stopwatch.StartNew();
        Tensor refLogp;
        using (no_grad())
        {
            refLogp = SequenceLogProbs.Compute(_reference, images, prompts, completions).LogProbs;
        }

        double secondsReference = clock.Elapsed.TotalSeconds;
        clock.Restart();

        _policy.train();
        var policy = SequenceLogProbs.Compute(_policy, images, prompts, completions);
        var logp = policy.LogProbs;
        var mask = policy.Mask;
        // One optimisation pass per batch of rollouts: pi_old is the current policy, so rho = 1 and the gradient
        // is A * grad(logp) (docs/algorithm.md section 3).
        var oldLogp = logp.detach();
        var behaviour = proximalVersion is { } version ? Behaviour(groups, version, oldLogp) : null;
        using var result = GrpoLoss.ComputeDecoupled(logp, oldLogp, behaviour, refLogp, advantages, mask, beta, _lossSettings);
        double loss = result.Loss.item<float>();
        double entropy = ((policy.Entropy * mask).sum() / mask.sum().clamp_min(1)).item<float>();

        _optimizer.zero_grad();
        string? skipReason = null;
        double gradNorm = double.NaN;
        if (!double.IsFinite(loss))
        {
            skipReason = $"non-finite loss ({loss})";
        }
        else
        {
            result.Loss.backward();
            gradNorm = _maxGradNorm > 0
                ? nn.utils.clip_grad_norm_(_policy.TrainableParameters(), _maxGradNorm)
                : GradientNorm();
            if (!double.IsFinite(gradNorm))
            {
                skipReason = $"non-finite gradient norm ({gradNorm})";
            }
        }

        if (skipReason is null)
        {
            _optimizer.step();
            UpdatesApplied++;
        }
        else
        {
            _optimizer.zero_grad();
            UpdatesSkipped++;
        }

        return new LearnerStepReport(loss, result.MeanKl, result.ClipFraction, result.ClipFractionLow,
            result.ClipFractionHigh, entropy, gradNorm, skipReason is not null, skipReason, secondsReference,
            clock.Elapsed.TotalSeconds, result.ImportanceWeights);
    }

    /// <summary>
    /// The behaviour log-probs of the batch, [B, T] like <paramref name="proximal"/>: the sampler's recorded log-probs on
    /// the rows of groups sampled by a version older than <paramref name="proximalVersion"/>, the proximal ones elsewhere
    /// (<see cref="BehaviourLogProbs.Select"/>); null when no group is older.
    /// </summary>
    private static Tensor? Behaviour(IReadOnlyList<ScoredGroup> groups, long proximalVersion, Tensor proximal)
    {
        var older = groups.SelectMany(g => g.Rollouts.Select(_ => g.LagBehind(proximalVersion) > 0)).ToArray();
        if (!older.Contains(true))
        {
            return null;
        }

        int batch = (int)proximal.shape[0], length = (int)proximal.shape[1];
        var sampling = new float[batch * length]; // padding stays 0: the mask leaves it out and its weight is 1
        int row = 0;
        foreach (var rollout in groups.SelectMany(g => g.Rollouts))
        {
            var recorded = rollout.SamplingLogProbs;
            Array.Copy(recorded, 0, sampling, row * length, Math.Min(recorded.Length, length));
            row++;
        }

        using var samplingLogp = tensor(sampling, [batch, length], device: proximal.device);
        return BehaviourLogProbs.Select(proximal, samplingLogp, older);
    }

    private double GradientNorm()
    {
        double sum = 0;
        foreach (var p in _policy.TrainableParameters())
        {
            if (p.grad is { } g)
            {
                sum += g.pow(2).sum().item<float>();
            }
        }

        return Math.Sqrt(sum);
    }

    public void Dispose() => _optimizer.Dispose();
}
