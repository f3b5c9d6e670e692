using System.Diagnostics;
using Grid.Core;
using Grid.Policy.Generation;
using Grid.Policy.Model;
using Grid.Policy.Prompting;
using Grid.Policy.Tokenization;
using Grid.Tasks;
using Grid.Tasks.Verification;
using Grid.Training.Data;
using Grid.Training.Rollouts;

namespace Grid.Training.Evaluation;

/// <summary>
/// Greedy decoding on prompts of every task (the held-out test prompts unless told otherwise); accuracy and format
/// rate per task.
/// </summary>
public sealed class Evaluator
{
    private const int BatchSize = 64;

    private readonly TaskVerifier _verifier;
    private readonly int _maxNewTokens;
    private readonly IPromptCodec _codec;

    /// <param name="codec">How the policy reads and writes text (its tokenizer); default <see cref="Tokenizer.Default"/>.</param>
    public Evaluator(TaskVerifier verifier, int maxNewTokens, IPromptCodec? codec = null)
    {
        _verifier = verifier;
        _maxNewTokens = maxNewTokens;
        _codec = codec ?? Tokenizer.Default;
    }

    /// <summary>The first <paramref name="promptsPerTask"/> held-out test prompts (<see cref="PromptSource.HeldOut"/>) of each task;
    /// of a dataset task (<see cref="RunData"/>) its eval records in file order, at most all of them.</summary>
    public EvalReport Evaluate(PolicyModel policy, IEnumerable<IVisualTask> tasks, int promptsPerTask,
        string label, string? trainedTask) =>
        Evaluate(policy, tasks, promptsPerTask, label, trainedTask, RunData.HeldOut);

    /// <summary>
    /// The prompts <paramref name="promptAt"/> gives for indices 0 to <paramref name="promptsPerTask"/> - 1 of each task,
    /// e.g. <see cref="PromptSource.Validation"/> for the validation curve during training.
    /// </summary>
    public EvalReport Evaluate(PolicyModel policy, IEnumerable<IVisualTask> tasks, int promptsPerTask,
        string label, string? trainedTask, Func<IVisualTask, int, TaskExample> promptAt)
    {
        ArgumentNullException.ThrowIfNull(promptAt);
        var clock = Stopwatch.StartNew();
        var settings = new GenerationSettings(_maxNewTokens, Greedy: true);
        var scores = new List<TaskScore>();
        foreach (var task in tasks)
        {
            var prompts = Enumerable.Range(0, RunData.PromptCount(task, promptsPerTask)).Select(i => promptAt(task, i)).ToArray();
            double correct = 0, wellFormed = 0;
            foreach (var batch in prompts.Chunk(BatchSize))
            {
                var requests = batch.Select(p => new GenerationRequest(p.Image, _codec.EncodePrompt(p.Image, p.Question), 0)).ToArray();
                var results = Generator.Generate(policy, requests, settings);
                for (int i = 0; i < batch.Length; i++)
                {
                    var reward = _verifier.Score(batch[i], _codec.DecodeCompletion(results[i].Tokens));
                    correct += reward.Accuracy;
                    wellFormed += reward.Format;
                }
            }

            scores.Add(new TaskScore(task.Name, prompts.Length, correct / prompts.Length, wellFormed / prompts.Length));
        }

        return new EvalReport(label, trainedTask, scores, clock.Elapsed.TotalSeconds);
    }
}
