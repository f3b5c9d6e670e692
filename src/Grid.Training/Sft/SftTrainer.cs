using Grid.Core;
using Grid.Policy.Model;
using Grid.Policy.Prompting;
using Grid.Policy.Scoring;
using Grid.Policy.Tokenization;
using Grid.Tasks;
using Grid.Training.Runs;
using Grid.Training.Settings;
using static TorchSharp.torch;

namespace Grid.Training.Sft;

/// <summary>
/// The warm start: teacher-forced cross-entropy on the tasks' reference completions
/// (<c>&lt;think&gt;trace&lt;/think&gt;&lt;answer&gt;n&lt;/answer&gt;</c> + EOS), prompt tokens masked out. It plays the part
/// of the paper's capable base model; a limited number of demonstrations and steps leaves room for RL.
/// </summary>
public sealed class SftTrainer
{
    private readonly SftSettings _settings;
    private readonly IPromptCodec _codec;

    /// <param name="codec">How the policy reads and writes text (its tokenizer); default <see cref="Tokenizer.Default"/>.</param>
    public SftTrainer(SftSettings settings, IPromptCodec? codec = null)
    {
        _settings = settings;
        _codec = codec ?? Tokenizer.Default;
    }

    /// <summary>
    /// Trains <paramref name="policy"/> in place as a run's SFT phase: tells <paramref name="observer"/> of the phase and
    /// each step, and appends each step's loss to the run folder's <c>sft.jsonl</c>.
    /// </summary>
    public void Train(PolicyModel policy, IReadOnlyList<TaskExample> demonstrations, long seed, RunFolder folder,
        ITrainingObserver observer, CancellationToken cancellation)
    {
        observer.OnPhase("sft", _settings.Steps);
        Train(policy, demonstrations, seed, (step, loss) =>
        {
            observer.OnSftStep(step, loss);
            folder.AppendLine("sft.jsonl", new { step, loss });
        }, cancellation);
    }

    /// <summary>Trains <paramref name="policy"/> in place; reports (step, loss) after every optimizer step.</summary>
    public void Train(PolicyModel policy, IReadOnlyList<TaskExample> demonstrations, long seed,
        Action<int, double>? onStep = null, CancellationToken cancellation = default)
    {
        if (demonstrations.Count == 0)
        {
            throw new ArgumentException("SFT needs at least one demonstration.", nameof(demonstrations));
        }

        var prompts = demonstrations.Select(d => _codec.EncodePrompt(d.Image, d.Question)).ToArray();
        var targets = demonstrations.Select(d => _codec.EncodeCompletion(d.ReferenceCompletion)).ToArray();
        var sampler = new WeightedTaskSampler(demonstrations, _settings.TaskWeights, new Random(unchecked((int)seed)));
        using var optimizer = optim.AdamW(policy.TrainableParameters(), lr: _settings.LearningRate);
        policy.train();
        for (int step = 1; step <= _settings.Steps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            var batch = Enumerable.Range(0, _settings.BatchSize).Select(_ => sampler.Next()).ToArray();
            double loss;
            using (var scope = NewDisposeScope())
            {
                var scored = SequenceLogProbs.Compute(policy,
                    batch.Select(i => demonstrations[i].Image).ToArray(),
                    batch.Select(i => prompts[i]).ToArray(),
                    batch.Select(i => targets[i]).ToArray());
                var nll = -(scored.LogProbs * scored.Mask).sum() / scored.Mask.sum().clamp_min(1);
                optimizer.zero_grad();
                nll.backward();
                nn.utils.clip_grad_norm_(policy.TrainableParameters(), 1.0);
                optimizer.step();
                loss = nll.item<float>();
            }

            onStep?.Invoke(step, loss);
        }
    }
}
