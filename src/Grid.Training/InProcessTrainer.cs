using System.Diagnostics;
using Grid.Core;
using Grid.Learning.KlControl;
using Grid.Policy.Checkpoints;
using Grid.Policy.Generation;
using Grid.Policy.Model;
using Grid.Policy.Prompting;
using Grid.Policy.Tokenization;
using Grid.Tasks;
using Grid.Tasks.Verification;
using Grid.Training.Data;
using Grid.Training.Evaluation;
using Grid.Training.Learner;
using Grid.Training.Rollouts;
using Grid.Training.Runs;
using Grid.Training.Settings;
using Grid.Training.Sft;

namespace Grid.Training;

/// <summary>
/// GRPO-D in one process, no Orleans: SFT warm start (unless a checkpoint is given), evaluation, then for each
/// step: prompts -> G completions each -> rewards -> advantages -> one GRPO-D update with beta from the KL
/// controller, and on validating steps a greedy evaluation on the validation prompts (<see cref="Validator"/>). This
/// loop is the baseline the grid is measured against. Runs synchronously on the caller's thread, which must own all
/// torch work of the run.
/// </summary>
public sealed class InProcessTrainer
{
    private readonly RunSettings _settings;
    private readonly ITrainingObserver _observer;

    public InProcessTrainer(RunSettings settings, ITrainingObserver observer)
    {
        _settings = settings;
        _observer = observer;
    }

    /// <param name="grpo">False stops after the warm start and its evaluation (<c>grid sft</c>).</param>
    public TrainingResult Run(bool grpo = true, CancellationToken cancellation = default)
    {
        var total = Stopwatch.StartNew();
        var s = _settings;
        PolicyRuntime.Configure(s.Threads, s.Seed);
        var data = RunData.For(s);
        var folder = RunFolder.Create(s, DateTimeOffset.UtcNow);
        if (data.Record is not null)
        {
            folder.WriteJson("data.json", data.Record);
        }

        var tokenizer = data.Tokenizer;
        var verifier = new TaskVerifier(s.FormatWeight);
        var task = data.TrainTask;
        var evaluator = new Evaluator(verifier, s.MaxNewTokens, tokenizer);
        var source = new PromptSource(s.Seed);

        var (policy, config) = s.InitCheckpoint is null
            ? PolicyRuntime.CreatePolicy(s.Model, s.MaxNewTokens, s.Seed, tokenizer)
            : PolicyCheckpoint.Load(s.InitCheckpoint, tokenizer);
        using var ownedPolicy = policy; // freed with the run: grid experiment runs one after another in one process

        var sftClock = Stopwatch.StartNew();
        if (s.InitCheckpoint is null)
        {
            if (s.Sft.Steps > 0)
            {
                var demos = data.Demonstrations(source, s.Sft.Demonstrations);
                new SftTrainer(s.Sft, tokenizer).Train(policy, demos, s.Seed, folder, _observer, cancellation);
            }

            // The policy GRPO starts from, warm-started or (sft.steps=0) as initialised: the grid's learner and
            // `grid sft`'s printed path both load it from here.
            PolicyCheckpoint.Save(policy, config, Path.Combine(folder.CheckpointsPath, "sft"), tokenizer);
        }

        string lastCheckpoint = s.InitCheckpoint ?? Path.Combine(folder.CheckpointsPath, "sft");

        double secondsSft = sftClock.Elapsed.TotalSeconds;
        _observer.OnPhase("eval", 0);
        var afterSft = evaluator.Evaluate(policy, data.EvalTasks, s.EvalPrompts, "start", data.TrainedTask);
        folder.WriteJson("eval-start.json", afterSft);
        _observer.OnEvaluation(afterSft);

        if (!grpo)
        {
            var sftOnly = new TrainingResult(folder.Path, afterSft, afterSft, 0, 0, secondsSft, 0, total.Elapsed.TotalSeconds, lastCheckpoint, ProcessMemory.PeakRssBytes());
            folder.WriteJson("summary.json", sftOnly);
            return sftOnly;
        }

        var grpoClock = Stopwatch.StartNew();
        using var reference = PolicyRuntime.FrozenCopy(policy, config);
        var kl = KlControllers.Create(s.Kl, s.Steps);
        using var learner = new GrpoLearner(policy, reference, LossSettings.From(s), s.LearningRate, s.WeightDecay, s.MaxGradNorm);
        var steps = new GrpoStepService(learner, new GroupScorer(verifier, s.AdvantageScale, tokenizer));
        var generation = new GenerationSettings(s.MaxNewTokens, s.Temperature, s.TopP);
        var validator = new Validator(s, data);

        _observer.OnPhase("grpo", s.Steps);
        for (long step = 0; step < s.Steps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            var metrics = TrainStep(step, task, source, tokenizer, policy, steps, kl, generation, validator);
            folder.AppendLine("metrics.jsonl", metrics);
            _observer.OnStep(metrics);
            if ((step + 1) % s.CheckpointEvery == 0 || step + 1 == s.Steps)
            {
                lastCheckpoint = folder.CheckpointPath(step + 1);
                PolicyCheckpoint.Save(policy, config, lastCheckpoint, tokenizer);
            }
        }

        double secondsGrpo = grpoClock.Elapsed.TotalSeconds;
        _observer.OnPhase("eval", 0);
        var final = evaluator.Evaluate(policy, data.EvalTasks, s.EvalPrompts, "final", data.TrainedTask);
        folder.WriteJson("eval-final.json", final);
        _observer.OnEvaluation(final);

        var result = new TrainingResult(folder.Path, afterSft, final, s.Steps, learner.UpdatesSkipped,
            secondsSft, secondsGrpo, total.Elapsed.TotalSeconds, lastCheckpoint, ProcessMemory.PeakRssBytes());
        folder.WriteJson("summary.json", result);
        return result;
    }

    private StepMetrics TrainStep(long step, IVisualTask task, PromptSource source, Tokenizer tokenizer, VisionLanguagePolicy policy,
        GrpoStepService steps, IKlController kl, GenerationSettings generation, Validator validator)
    {
        var s = _settings;
        ValidationMetrics? validationStart = null, validation = null;
        double secondsValidation = 0;
        if (validator.Before(step))
        {
            (validationStart, secondsValidation) = validator.Validate(policy, policyVersion: 0);
        }

        var clock = Stopwatch.StartNew();
        double beta = kl.BetaAt(step);

        var prompts = Enumerable.Range(0, s.PromptsPerStep).Select(p => source.ForStep(task, step, p, s.PromptsPerStep)).ToArray();
        var promptTokens = prompts.Select(p => PromptFormat.EncodePrompt(p.Question, tokenizer)).ToArray();
        var requests = new List<GenerationRequest>(s.PromptsPerStep * s.GroupSize);
        for (int p = 0; p < prompts.Length; p++)
        {
            for (int g = 0; g < s.GroupSize; g++)
            {
                requests.Add(new GenerationRequest(prompts[p].Image, promptTokens[p], SamplingSeed.For(s.Seed, step, p, g)));
            }
        }

        policy.eval();
        var completions = Generator.Generate(policy, requests, generation);
        double secondsRollout = clock.Elapsed.TotalSeconds;
        clock.Restart();

        var sampled = prompts.Select((prompt, p) => new SampledGroup(p, prompt, promptTokens[p],
            steps.Scorer.ScoreRollouts(prompt, completions.Skip(p * s.GroupSize).Take(s.GroupSize).ToArray()))).ToArray();
        var groups = steps.Advantages(step, sampled);
        double secondsReward = clock.Elapsed.TotalSeconds;

        var update = steps.Apply(step, beta, groups);
        kl.Observe(step, update.Report.MeanKl, requests.Count);

        if (validator.After(step))
        {
            (validation, double seconds) = validator.Validate(policy, policyVersion: step + 1);
            secondsValidation += seconds;
        }

        return update.Metrics(secondsRollout, secondsReward, secondsPublish: 0, validationStart, validation, secondsValidation);
    }
}
