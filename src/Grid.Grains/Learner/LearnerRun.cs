using Grid.Contracts.Rollouts;
using Grid.Core;
using Grid.Grains.Mapping;
using Grid.Policy.Checkpoints;
using Grid.Policy.Model;
using Grid.Policy.Prompting;
using Grid.Tasks;
using Grid.Tasks.Verification;
using Grid.Training;
using Grid.Training.Data;
using Grid.Training.Evaluation;
using Grid.Training.Learner;
using Grid.Training.Metrics;
using Grid.Training.Rollouts;
using Grid.Training.Settings;
using TorchSharp;
using static TorchSharp.torch;

namespace Grid.Grains.Learner;

/// <summary>
/// The torch side of a learner: the trainable and reference policies, the GRPO-D learner and the validation of the
/// trained policy. Every member runs on
/// the learner's torch worker thread, synchronously; the grain never touches these objects itself.
/// </summary>
internal sealed class LearnerRun : IDisposable
{
    private readonly RunSettings _settings;
    private readonly RunPolicy _run;
    private readonly PolicyModel _policy;
    private readonly PolicyModel _reference;
    private readonly GrpoLearner _learner;
    private readonly GrpoStepService _steps;
    private readonly PromptSource _source;
    private readonly IVisualTask _task;
    private readonly IPromptCodec _codec;
    private readonly Validator _validator;
    private readonly SizedBuffer _weightsBuffer = new(); // published at every step, always the same size

    /// <summary>
    /// Loads the initial weights: <paramref name="initialWeights"/> (safetensors published through the weight store,
    /// shaped by the run's model settings), else the run's init checkpoint, else a fresh policy from the run seed.
    /// <paramref name="referenceWeights"/>, when given, replace the reference policy's (a resumed run), and
    /// <paramref name="optimizerState"/> the optimizer's fresh state (a resumed run's checkpoint). <paramref name="data"/>:
    /// the run's data from the silo's dataset cache (published data); null reads it as <see cref="RunData.Shared"/> does.
    /// </summary>
    public LearnerRun(RunSettings settings, byte[]? initialWeights = null, byte[]? referenceWeights = null,
        Device? device = null, byte[]? optimizerState = null, RunData? data = null)
    {
        _settings = settings;
        PolicyRuntime.UseThreads(settings.Threads); // on the learner's torch thread, as the in-process loop does on its own; Update sets it again
        data ??= RunData.Shared(settings);
        _run = RunPolicy.Create(settings, data.Tokenizer);
        (_policy, _codec, Config) = (_run.Model, _run.Codec, _run.Config);
        if (initialWeights is not null)
        {
            PolicyCheckpoint.LoadWeights(_policy, initialWeights);
        }

        _reference = _run.FrozenCopy();
        if (referenceWeights is not null)
        {
            PolicyCheckpoint.LoadWeights(_reference, referenceWeights); // resumed: pi_ref stays the initial policy
        }

        if (device is not null && device.type != DeviceType.CPU)
        {
            _policy.to(device);
            _reference.to(device);
        }

        _learner = new GrpoLearner(_policy, _reference, LossSettings.From(settings), settings.LearningRate,
            settings.WeightDecay, settings.MaxGradNorm);
        if (optimizerState is not null)
        {
            try
            {
                _learner.LoadOptimizerState(optimizerState);
            }
            catch
            {
                Dispose(); // a half-loaded optimizer must not train
                throw;
            }
        }
        _steps = new GrpoStepService(_learner, new GroupScorer(new TaskVerifier(settings.FormatWeight), settings.AdvantageScale, _codec));
        _source = new PromptSource(settings.Seed);
        _task = data.TrainTask;
        _validator = new Validator(settings, data, _codec);
    }

    public PolicyConfig Config { get; }

    public long UpdatesSkipped => _learner.UpdatesSkipped;

    public byte[] SerializeWeights() => PolicyCheckpoint.SerializeWeights(_policy, _weightsBuffer);

    /// <summary>AdamW's moments and step counts and the update counters: the rest of a checkpoint.</summary>
    public byte[] SerializeOptimizer() => _learner.SaveOptimizerState();

    /// <summary>The step's groups (in prompt order) as the learner consumes them.</summary>
    public IReadOnlyList<ScoredGroup> Groups(long step, IReadOnlyList<ScoredGroupRecord> records)
    {
        if (_settings.AdvantageScale == AdvantageScale.Batch)
        {
            // Batch scaling needs every group's rewards, which only the learner sees together.
            var sampled = records.Select(r => ScoredGroups.ToSampled(r, _source, _task, _settings.PromptsPerStep, _codec)).ToArray();
            return _steps.Advantages(step, sampled);
        }

        return records.Select(r => ScoredGroups.ToScored(r, _source, _task, _settings.PromptsPerStep, _codec)).ToArray();
    }

    /// <summary>The step's update through the same step service as the in-process loop (none when no group came).</summary>
    public GrpoStepUpdate Update(long step, double beta, IReadOnlyList<ScoredGroup> groups)
    {
        PolicyRuntime.UseThreads(_settings.Threads); // the thread may be shared: the rollout engine sets its own count
        return _steps.Apply(step, beta, groups);
    }

    /// <summary>Whether the policy is validated before <paramref name="step"/>'s update (the first step only).</summary>
    public bool ValidatesBefore(long step) => _validator.Before(step);

    /// <summary>Whether the policy <paramref name="step"/>'s update made is validated.</summary>
    public bool ValidatesAfter(long step) => _validator.After(step);

    /// <summary>Greedy evaluation of the current policy (version <paramref name="policyVersion"/>) on the validation
    /// prompts, with the run's thread count as in the in-process loop; returns it and the seconds it took.</summary>
    public (ValidationMetrics Validation, double Seconds) Validate(long policyVersion)
    {
        PolicyRuntime.UseThreads(_settings.Threads);
        return _validator.Validate(_policy, policyVersion);
    }

    public void Dispose()
    {
        _learner.Dispose();
        _reference.Dispose();
        _run.Dispose();
    }
}
