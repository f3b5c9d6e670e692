using Grid.Core.Settings;
using Grid.Tasks;
using Grid.Tasks.Rewards;

namespace Grid.Training.Settings;

/// <summary>Checks every setting once, at the edge, and names the first one that is wrong.</summary>
public static class RunSettingsValidator
{
    // Upper bounds: far above any run this machine class trains, low enough that a typo cannot allocate gigabytes
    // or run for years before anything is refused.
    public const int MaxNameLength = 64;
    public const int MaxSteps = 1_000_000;
    public const int MaxPromptsPerStep = 2048;
    public const int MaxGroupSize = 64;
    public const int MaxCompletionsPerStep = 8192;
    public const int MaxEvalPrompts = 10_000;
    public const int MaxThreads = 256;
    public const int MaxSftBatchSize = 1024;
    public const int MaxDemonstrations = 20_000;
    public const int MaxDModel = 1024;
    public const int MaxLayers = 32;
    public const long MaxTransformerWeights = 50_000_000;
    public const int MaxPathLength = 1024;
    public const double MaxSeconds = 7 * 24 * 3600;
    public const double MaxBeta = KlSettings.MaxBeta;

    public static void Validate(RunSettings s) => Validate(s, dataFilesHere: true);

    /// <summary>
    /// As <see cref="Validate(RunSettings)"/>; with <paramref name="dataFilesHere"/> false the <c>data</c> files are not
    /// looked for on this machine (a cluster's controller: the client published them through the store, and its paths
    /// mean nothing here), only their form is checked.
    /// </summary>
    public static void Validate(RunSettings s, bool dataFilesHere)
    {
        Require("name", s.Name, !string.IsNullOrWhiteSpace(s.Name) && s.Name.Length <= MaxNameLength
            && s.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'),
            $"a non-empty name of at most {MaxNameLength} letters, digits, '-' or '_' (it names the run folder)");
        OneOf("task", s.Task, TaskCatalog.Names);
        Between("steps", s.Steps, 1, MaxSteps);
        Between("prompts_per_step", s.PromptsPerStep, 1, MaxPromptsPerStep);
        Between("group_size", s.GroupSize, 2, MaxGroupSize);
        Require("prompts_per_step", s.PromptsPerStep, (long)s.PromptsPerStep * s.GroupSize <= MaxCompletionsPerStep,
            $"at most {MaxCompletionsPerStep / s.GroupSize} with group_size {s.GroupSize}: a step generates prompts_per_step x "
            + $"group_size completions, at most {MaxCompletionsPerStep}, all held in memory at once");
        Require("max_new_tokens", s.MaxNewTokens, s.MaxNewTokens is >= 4 and <= 256, "an integer in [4, 256]");
        Require("temperature", s.Temperature, s.Temperature is > 0 and <= 100, "a number in (0, 100]");
        Require("top_p", s.TopP, s.TopP is > 0 and <= 1, "a number in (0, 1]");
        Require("learning_rate", s.LearningRate, s.LearningRate is > 0 and <= 1, "a number in (0, 1]");
        Require("weight_decay", s.WeightDecay, s.WeightDecay is >= 0 and < 1, "a number in [0, 1)");
        Require("max_grad_norm", s.MaxGradNorm, s.MaxGradNorm is >= 0 and <= 1e6, "a number in [0, 1000000] (0 turns clipping off)");
        Require("format_weight", s.FormatWeight, s.FormatWeight is >= 0 and <= 100, "a number in [0, 100] (the paper uses 1)");
        Defined("advantage_scale", s.AdvantageScale);
        Defined("loss_type", s.LossType);
        Require("eps_low", s.EpsLow, s.EpsLow is >= 0 and < 1, "a number in [0, 1)");
        Require("eps_high", s.EpsHigh, s.EpsHigh is >= 0 and <= 10, "a number in [0, 10]");
        Require("max_importance_weight", s.MaxImportanceWeight, s.MaxImportanceWeight is null or (> 1 and <= 1e6),
            "a number in (1, 1000000], or leave it out for no cap (a weight of 1, a rollout of the policy being updated, is "
            + "never capped; AReaL uses 5)");
        Defined("importance_weight_cap", s.ImportanceWeightCap);
        Between("eval_prompts", s.EvalPrompts, 1, MaxEvalPrompts);
        Require("eval_every", s.EvalEvery, s.EvalEvery is >= 0 and <= MaxSteps,
            $"an integer in [0, {MaxSteps}] (GRPO steps between validation evaluations; 0 turns validation off)");
        Require("validation_prompts", s.ValidationPrompts, s.ValidationPrompts is >= 1 and <= MaxEvalPrompts,
            $"an integer in [1, {MaxEvalPrompts}] (validation prompts per task)");
        Between("checkpoint_every", s.CheckpointEvery, 1, MaxSteps);
        Require("threads", s.Threads, s.Threads is >= 0 and <= MaxThreads, $"0 (one per core) or a thread count up to {MaxThreads}");
        Require("output_directory", s.OutputDirectory, IsPath(s.OutputDirectory),
            $"a folder path of at most {MaxPathLength} characters, without control characters");
        if (s.InitCheckpoint is not null)
        {
            Require("init_checkpoint", s.InitCheckpoint, IsPath(s.InitCheckpoint) && Directory.Exists(s.InitCheckpoint),
                "an existing checkpoint folder (with checkpoint.json), or leave it out to warm-start with SFT");
        }

        Between("sft.steps", s.Sft.Steps, 0, MaxSteps);
        Between("sft.batch_size", s.Sft.BatchSize, 1, MaxSftBatchSize);
        Require("sft.learning_rate", s.Sft.LearningRate, s.Sft.LearningRate is > 0 and <= 1, "a number in (0, 1]");
        Between("sft.demonstrations", s.Sft.Demonstrations, 1, MaxDemonstrations);
        Require("sft.tasks", string.Join(",", s.Sft.Tasks), s.Sft.Tasks.Count > 0, "at least one task");
        foreach (var task in s.Sft.Tasks)
        {
            OneOf("sft.tasks", task, TaskCatalog.Names);
        }

        foreach (var (task, weight) in s.Sft.TaskWeights)
        {
            OneOf("sft.task_weights", task, TaskCatalog.Names);
            Require($"sft.task_weights.{task}", weight, weight is > 0 and <= 1000, "a number in (0, 1000]");
        }

        Require("model.d_model", s.Model.DModel, s.Model.DModel is >= 8 and <= MaxDModel, $"an integer in [8, {MaxDModel}]");
        Require("model.layers", s.Model.Layers, s.Model.Layers is >= 1 and <= MaxLayers, $"an integer in [1, {MaxLayers}]");
        long transformerWeights = 12L * s.Model.DModel * s.Model.DModel * s.Model.Layers;
        Require("model.layers", s.Model.Layers, transformerWeights <= MaxTransformerWeights,
            $"at most {MaxTransformerWeights / (12L * s.Model.DModel * s.Model.DModel)} with model.d_model {s.Model.DModel}: "
            + $"12 x d_model^2 x layers weights (here {transformerWeights}) may be at most {MaxTransformerWeights} "
            + "(about 200 MB of fp32 weights, 1 GB with gradients and AdamW state)");
        Require("model.heads", s.Model.Heads, s.Model.Heads >= 1 && s.Model.DModel % s.Model.Heads == 0,
            $"a positive divisor of model.d_model ({s.Model.DModel})");
        Require("model.patch_size", s.Model.PatchSize, s.Model.PatchSize is >= 1 and <= 48 && 48 % s.Model.PatchSize == 0
            && (s.Model.StemChannels == 0 || s.Model.PatchSize % 4 == 0),
            "a divisor of the 48-pixel image side (4, 8, 12, 16, 24 or 48; a multiple of 4 with a stem)");
        Require("model.stem_channels", s.Model.StemChannels, s.Model.StemChannels is >= 0 and <= 256,
            "0 (no stem) or a channel count up to 256");

        ValidateRollouts(s.Rollouts);
        ValidateFaults(s.Faults);
        ValidateData(s.Data, dataFilesHere);

        // The KL settings check themselves (bounds, ranges and their order) against t = steps, under the run's names.
        s.Kl.Validate(s.Steps);
    }

    /// <summary>Beyond a few versions the importance weights degenerate, and every lagging version's weights are kept.</summary>
    public const int MaxStaleness = 16;

    private static void ValidateRollouts(RolloutSettings r)
    {
        Require("rollouts.attempt_timeout_seconds", r.AttemptTimeoutSeconds,
            r.AttemptTimeoutSeconds is > 0 and <= MaxSeconds, $"a number of seconds in (0, {MaxSeconds}] (a week)");
        Require("rollouts.max_attempts", r.MaxAttempts, r.MaxAttempts is >= 1 and <= 100,
            "an integer in [1, 100] (attempts per group, the first included; 1 means no retry)");
        Require("rollouts.backoff_initial_seconds", r.BackoffInitialSeconds,
            r.BackoffInitialSeconds is >= 0 and <= MaxSeconds, $"a number of seconds in [0, {MaxSeconds}] (a week)");
        Require("rollouts.backoff_max_seconds", r.BackoffMaxSeconds,
            r.BackoffMaxSeconds >= r.BackoffInitialSeconds && r.BackoffMaxSeconds <= MaxSeconds,
            $"a number of seconds from rollouts.backoff_initial_seconds ({r.BackoffInitialSeconds}) to {MaxSeconds} (a week)");
        double quiet = r.AttemptTimeoutSeconds + r.BackoffMaxSeconds;
        Require("rollouts.group_deadline_seconds", r.GroupDeadlineSeconds,
            r.GroupDeadlineSeconds > quiet && r.GroupDeadlineSeconds <= 3 * MaxSeconds,
            $"a number of seconds up to {3 * MaxSeconds} and > rollouts.attempt_timeout_seconds + rollouts.backoff_max_seconds ({quiet}): "
            + "a healthy group may show no progress for one attempt and one backoff");
        Require("rollouts.watchdog_interval_seconds", r.WatchdogIntervalSeconds,
            double.IsFinite(r.WatchdogIntervalSeconds) && r.WatchdogIntervalSeconds >= 0.1
            && r.WatchdogIntervalSeconds <= r.GroupDeadlineSeconds,
            $"a number of seconds in [0.1, rollouts.group_deadline_seconds ({r.GroupDeadlineSeconds})]");
        Require("rollouts.kept_group_steps", r.KeptGroupSteps, r.KeptGroupSteps is >= 0 and <= 10_000,
            "an integer in [0, 10000] (recorded steps whose prompt group states are kept for inspection)");
        Require("rollouts.max_staleness", r.MaxStaleness, r.MaxStaleness is >= 0 and <= MaxStaleness,
            $"an integer in [0, {MaxStaleness}] (policy versions a trained group may lag behind; 0 is the synchronous run)");
    }

    private static void ValidateData(DataSettings d, bool filesHere)
    {
        if (!d.IsSet)
        {
            const string needsTrain = "left out without data.train (set data.train=FILE.jsonl to train on a dataset of your own)";
            Require("data.eval", d.Eval, d.Eval is null, needsTrain);
            Require("data.answer_kind", d.AnswerKind, d.AnswerKind is null, needsTrain);
            Require("data.tolerance", d.Tolerance, d.Tolerance is null, needsTrain);
        }
        else
        {
            DatasetFile("data.train", d.Train!, filesHere);
        }

        if (d.Eval is not null)
        {
            DatasetFile("data.eval", d.Eval, filesHere);
            Require("data.eval", d.Eval, Path.GetFullPath(d.Eval) != Path.GetFullPath(d.Train!),
                "another file than data.train (leave data.eval out to split data.train by data.eval_fraction)");
        }

        if (d.AnswerKind is not null)
        {
            OneOf("data.answer_kind", d.AnswerKind, AnswerRule.KindNames);
        }

        if (d.Tolerance is { } tolerance)
        {
            Require("data.tolerance", tolerance, double.IsFinite(tolerance) && tolerance is >= 0 and <= 1e12,
                "a number >= 0 (the absolute tolerance of numeric answers)");
            Require("data.tolerance", tolerance, d.AnswerKind == "numeric",
                "left out unless data.answer_kind is numeric (a tolerance only applies to numeric answers)");
        }

        Require("data.eval_fraction", d.EvalFraction, d.EvalFraction is > 0 and < 1,
            "a share in (0, 1), e.g. 0.1: the part of data.train held out for evaluation when data.eval is not set");
    }

    private static void DatasetFile(string setting, string path, bool here)
    {
        Require(setting, path, IsPath(path), $"a JSONL file path of at most {MaxPathLength} characters, without control characters");
        if (!here)
        {
            return;
        }

        string full = Path.GetFullPath(path);
        Require(setting, path, File.Exists(full),
            $"an existing JSONL dataset file; there is none at {full}. Fix the path (relative paths start at the current "
            + "folder), or write one with 'grid dataset export' or 'grid dataset import'");
    }

    private static void ValidateFaults(FaultSettings f)
    {
        Share("faults.generation_throw_share", f.GenerationThrowShare);
        Share("faults.generation_stall_share", f.GenerationStallShare);
        Share("faults.verifier_throw_share", f.VerifierThrowShare);
        double generation = f.GenerationThrowShare + f.GenerationStallShare;
        Require("faults.generation_stall_share", f.GenerationStallShare, generation <= 1,
            $"<= 1 - faults.generation_throw_share ({1 - f.GenerationThrowShare}): a generation either throws, stalls or runs");
    }

    private static void Share(string setting, double value) =>
        Require(setting, value, value is >= 0 and <= 1, "a share in [0, 1] (0 turns this fault off)");

    private static void Between(string setting, int value, int min, int max) =>
        Require(setting, value, value >= min && value <= max, $"an integer in [{min}, {max}]");

    private static bool IsPath(string? path) =>
        !string.IsNullOrWhiteSpace(path) && path.Length <= MaxPathLength && !path.Any(char.IsControl);

    private static void Defined<T>(string setting, T value)
        where T : struct, Enum =>
        Require(setting, value, Enum.IsDefined(value), InvalidSettingException.OneOf(SettingNames<T>.All));

    private static void OneOf(string setting, string value, IReadOnlyCollection<string> allowed) =>
        Require(setting, value, allowed.Contains(value), InvalidSettingException.OneOf(allowed));

    private static void Require(string setting, object? value, bool ok, string allowed)
    {
        if (!ok)
        {
            throw new InvalidSettingException(setting, value, allowed);
        }
    }
}
