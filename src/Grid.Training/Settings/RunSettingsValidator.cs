using Grid.Learning.Advantages;
using Grid.Learning.Objective;
using Grid.Learning.Settings;
using Grid.Tasks;

namespace Grid.Training.Settings;

/// <summary>Checks every setting once, at the edge, and names the first one that is wrong.</summary>
public static class RunSettingsValidator
{
    public static void Validate(RunSettings s)
    {
        Require("name", s.Name, !string.IsNullOrWhiteSpace(s.Name) && s.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'),
            "a non-empty name of letters, digits, '-' or '_' (it names the run folder)");
        OneOf("task", s.Task, TaskCatalog.Names);
        AtLeast("steps", s.Steps, 1);
        AtLeast("prompts_per_step", s.PromptsPerStep, 1);
        AtLeast("group_size", s.GroupSize, 2);
        Require("max_new_tokens", s.MaxNewTokens, s.MaxNewTokens is >= 4 and <= 256, "an integer in [4, 256]");
        Require("temperature", s.Temperature, double.IsFinite(s.Temperature) && s.Temperature > 0, "a number > 0");
        Require("top_p", s.TopP, s.TopP is > 0 and <= 1, "a number in (0, 1]");
        Require("learning_rate", s.LearningRate, double.IsFinite(s.LearningRate) && s.LearningRate > 0, "a number > 0");
        Require("weight_decay", s.WeightDecay, s.WeightDecay is >= 0 and < 1, "a number in [0, 1)");
        Require("max_grad_norm", s.MaxGradNorm, double.IsFinite(s.MaxGradNorm) && s.MaxGradNorm >= 0, "a number >= 0 (0 turns clipping off)");
        Require("format_weight", s.FormatWeight, double.IsFinite(s.FormatWeight) && s.FormatWeight >= 0, "a number >= 0 (the paper uses 1)");
        OneOf("advantage_scale", s.AdvantageScale, AdvantageSettings.ScaleNames);
        OneOf("loss_type", s.LossType, GrpoLossSettings.LossTypeNames);
        Require("eps_low", s.EpsLow, s.EpsLow is >= 0 and < 1, "a number in [0, 1)");
        Require("eps_high", s.EpsHigh, double.IsFinite(s.EpsHigh) && s.EpsHigh >= 0, "a number >= 0");
        AtLeast("eval_prompts", s.EvalPrompts, 1);
        Require("eval_every", s.EvalEvery, s.EvalEvery >= 0,
            "an integer >= 0 (GRPO steps between validation evaluations; 0 turns validation off)");
        Require("validation_prompts", s.ValidationPrompts, s.ValidationPrompts >= 1,
            "an integer >= 1 (validation prompts per task)");
        AtLeast("checkpoint_every", s.CheckpointEvery, 1);
        Require("threads", s.Threads, s.Threads is >= 0 and <= 1024, "0 (one per core) or a positive thread count");
        Require("output_directory", s.OutputDirectory, !string.IsNullOrWhiteSpace(s.OutputDirectory), "a folder path");
        if (s.InitCheckpoint is not null)
        {
            Require("init_checkpoint", s.InitCheckpoint, Directory.Exists(s.InitCheckpoint),
                "an existing checkpoint folder (with checkpoint.json), or leave it out to warm-start with SFT");
        }

        AtLeast("sft.steps", s.Sft.Steps, 0);
        AtLeast("sft.batch_size", s.Sft.BatchSize, 1);
        Require("sft.learning_rate", s.Sft.LearningRate, double.IsFinite(s.Sft.LearningRate) && s.Sft.LearningRate > 0, "a number > 0");
        AtLeast("sft.demonstrations", s.Sft.Demonstrations, 1);
        Require("sft.tasks", string.Join(",", s.Sft.Tasks), s.Sft.Tasks.Count > 0, "at least one task");
        foreach (var task in s.Sft.Tasks)
        {
            OneOf("sft.tasks", task, TaskCatalog.Names);
        }

        foreach (var (task, weight) in s.Sft.TaskWeights)
        {
            OneOf("sft.task_weights", task, TaskCatalog.Names);
            Require($"sft.task_weights.{task}", weight, double.IsFinite(weight) && weight > 0, "a number > 0");
        }

        Require("model.d_model", s.Model.DModel, s.Model.DModel is >= 8 and <= 4096, "an integer in [8, 4096]");
        Require("model.layers", s.Model.Layers, s.Model.Layers is >= 1 and <= 64, "an integer in [1, 64]");
        Require("model.heads", s.Model.Heads, s.Model.Heads >= 1 && s.Model.DModel % s.Model.Heads == 0,
            $"a positive divisor of model.d_model ({s.Model.DModel})");
        Require("model.patch_size", s.Model.PatchSize, s.Model.PatchSize is >= 1 and <= 48 && 48 % s.Model.PatchSize == 0
            && (s.Model.StemChannels == 0 || s.Model.PatchSize % 4 == 0),
            "a divisor of the 48-pixel image side (4, 8, 12, 16, 24 or 48; a multiple of 4 with a stem)");
        Require("model.stem_channels", s.Model.StemChannels, s.Model.StemChannels is >= 0 and <= 256,
            "0 (no stem) or a channel count up to 256");

        ValidateRollouts(s.Rollouts);
        ValidateFaults(s.Faults);

        // The KL controller validates its own settings (beta ranges, warmup fraction, horizon) against t = steps.
        KlControllerFactory.FromSettings(s.Kl, s.Steps);
    }

    private static void ValidateRollouts(RolloutSettings r)
    {
        Require("rollouts.attempt_timeout_seconds", r.AttemptTimeoutSeconds,
            double.IsFinite(r.AttemptTimeoutSeconds) && r.AttemptTimeoutSeconds > 0, "a number of seconds > 0");
        Require("rollouts.max_attempts", r.MaxAttempts, r.MaxAttempts is >= 1 and <= 100,
            "an integer in [1, 100] (attempts per group, the first included; 1 means no retry)");
        Require("rollouts.backoff_initial_seconds", r.BackoffInitialSeconds,
            double.IsFinite(r.BackoffInitialSeconds) && r.BackoffInitialSeconds >= 0, "a number of seconds >= 0");
        Require("rollouts.backoff_max_seconds", r.BackoffMaxSeconds,
            double.IsFinite(r.BackoffMaxSeconds) && r.BackoffMaxSeconds >= r.BackoffInitialSeconds,
            $"a number of seconds >= rollouts.backoff_initial_seconds ({r.BackoffInitialSeconds})");
        double quiet = r.AttemptTimeoutSeconds + r.BackoffMaxSeconds;
        Require("rollouts.group_deadline_seconds", r.GroupDeadlineSeconds,
            double.IsFinite(r.GroupDeadlineSeconds) && r.GroupDeadlineSeconds > quiet,
            $"a number of seconds > rollouts.attempt_timeout_seconds + rollouts.backoff_max_seconds ({quiet}): "
            + "a healthy group may show no progress for one attempt and one backoff");
        Require("rollouts.watchdog_interval_seconds", r.WatchdogIntervalSeconds,
            double.IsFinite(r.WatchdogIntervalSeconds) && r.WatchdogIntervalSeconds >= 0.1
            && r.WatchdogIntervalSeconds <= r.GroupDeadlineSeconds,
            $"a number of seconds in [0.1, rollouts.group_deadline_seconds ({r.GroupDeadlineSeconds})]");
        Require("rollouts.kept_group_steps", r.KeptGroupSteps, r.KeptGroupSteps is >= 0 and <= 10_000,
            "an integer in [0, 10000] (recorded steps whose prompt group states are kept for inspection)");
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

    private static void AtLeast(string setting, int value, int min) =>
        Require(setting, value, value >= min, $"an integer >= {min}");

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
