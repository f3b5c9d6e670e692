namespace Grid.Core.Settings;

/// <summary>
/// Everything that decides a training run, as read from JSON (snake_case keys) and flags. Validated once where
/// it is loaded (Grid.Training's RunSettingsValidator); immutable afterwards, so every holder shares one instance. Defaults are the README's demo run.
/// </summary>
public sealed record RunSettings
{
    /// <summary>Human name of the run; the run folder is named from it and the start time.</summary>
    public string Name { get; init; } = "demo";

    /// <summary>Seeds the model init, prompt order and every sampled completion.</summary>
    public long Seed { get; init; } = 1;

    /// <summary>Task trained with GRPO-D: "counting" or "geometry". Geometry by default: after the warm start the
    /// policy does the arithmetic but mostly guesses which diagram it sees, which is what RL then learns.</summary>
    public string Task { get; init; } = "geometry";

    /// <summary>GRPO-D steps (t in Eq. 3).</summary>
    public int Steps { get; init; } = 400;

    /// <summary>Prompts sampled per step; each gets <see cref="GroupSize"/> completions.</summary>
    public int PromptsPerStep { get; init; } = 16;

    /// <summary>G: completions per prompt.</summary>
    public int GroupSize { get; init; } = 8;

    public int MaxNewTokens { get; init; } = 40;

    public double Temperature { get; init; } = 1.0;

    public double TopP { get; init; } = 1.0;

    public double LearningRate { get; init; } = 1e-4;

    public double WeightDecay { get; init; } = 0.0;

    /// <summary>Global gradient-norm clip; 0 turns clipping off.</summary>
    public double MaxGradNorm { get; init; } = 1.0;

    /// <summary>alpha in R = R_acc + alpha * R_format (Eq. 1).</summary>
    public double FormatWeight { get; init; } = 1.0;

    /// <summary>"group", "batch" or "none" (Eq. 2).</summary>
    public AdvantageScale AdvantageScale { get; init; } = AdvantageScale.Group;

    /// <summary>"grpo", "bnpo" or "dr_grpo" (docs/algorithm.md section 3).</summary>
    public LossType LossType { get; init; } = LossType.Grpo;

    public double EpsLow { get; init; } = 0.2;

    public double EpsHigh { get; init; } = 0.2;

    /// <summary>
    /// The cap C on the asynchronous objective's importance weight pi_prox / pi_behav (docs/algorithm.md section 9);
    /// unset caps nothing. Only rollouts sampled by an older version than the one updated (rollouts.max_staleness &gt; 0)
    /// carry a weight other than 1.
    /// </summary>
    public double? MaxImportanceWeight { get; init; }

    /// <summary>"drop" (AReaL: a token above the cap leaves the policy term) or "truncate" (its weight becomes C).</summary>
    public ImportanceWeightCap ImportanceWeightCap { get; init; } = ImportanceWeightCap.Drop;

    public KlSettings Kl { get; init; } = new();

    public SftSettings Sft { get; init; } = new();

    public ModelSettings Model { get; init; } = new();

    /// <summary>Attempt timeout, retry budget and backoff of prompt groups, and the controller's watchdog.</summary>
    public RolloutSettings Rollouts { get; init; } = new();

    /// <summary>A dataset of the user's own to train and evaluate on; unset, the built-in tasks (docs/datasets.md).</summary>
    public DataSettings Data { get; init; } = new();

    /// <summary>Injected generation and verifier faults, for tests and drills; off by default.</summary>
    public FaultSettings Faults { get; init; } = new();

    /// <summary>Held-out prompts per task for <c>grid eval</c> and the final evaluation.</summary>
    public int EvalPrompts { get; init; } = 200;

    /// <summary>GRPO steps between greedy evaluations on the validation prompts of every task (after the step's update,
    /// after the last step, and once before the first); 0 turns validation off.</summary>
    public int EvalEvery { get; init; } = 25;

    /// <summary>Validation prompts per task: the first this many of the validation stream, never the held-out ones.</summary>
    public int ValidationPrompts { get; init; } = 64;

    /// <summary>Save a checkpoint every this many GRPO steps (and always at the end).</summary>
    public int CheckpointEvery { get; init; } = 50;

    /// <summary>
    /// Keep every published weight version in the weight store (3.5 MB each for the demo policy). Off by default: a
    /// version's weights go with its learner checkpoint once it is neither one of the newest two nor a
    /// <see cref="CheckpointEvery"/>-th, so a run's store stays bounded.
    /// </summary>
    public bool KeepAllWeights { get; init; }

    /// <summary>Folder under which run folders are created.</summary>
    public string OutputDirectory { get; init; } = "runs";

    /// <summary>Start GRPO-D from this checkpoint folder instead of running SFT first.</summary>
    public string? InitCheckpoint { get; init; }

    /// <summary>Torch intra-op threads; 0 means one per core.</summary>
    public int Threads { get; init; }
}

/// <summary>The supervised warm start on the tasks' reference traces.</summary>
public sealed record SftSettings
{
    /// <summary>Optimizer steps; 0 skips SFT (then the policy starts from random weights or InitCheckpoint).</summary>
    public int Steps { get; init; } = 800;

    public int BatchSize { get; init; } = 32;

    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Distinct demonstrations per task; kept limited so the base stays imperfect and RL has room.</summary>
    public int Demonstrations { get; init; } = 2000;

    /// <summary>Tasks whose demonstrations are used.</summary>
    public IReadOnlyList<string> Tasks { get; init; } = ["counting", "geometry"];

    /// <summary>
    /// How often each task's demonstrations are drawn relative to the others (a task left out weighs 1). Counting needs
    /// more examples than geometry to be learned as well, so it is drawn twice as often by default.
    /// </summary>
    public IReadOnlyDictionary<string, double> TaskWeights { get; init; } = new Dictionary<string, double> { ["counting"] = 2 };
}

/// <summary>Shape of the policy network.</summary>
public sealed record ModelSettings
{
    public int DModel { get; init; } = 128;

    public int Layers { get; init; } = 4;

    public int Heads { get; init; } = 4;

    /// <summary>Side of the square image patches, in pixels; 16 matches the counting task's cells, so no object is split.</summary>
    public int PatchSize { get; init; } = 16;

    /// <summary>
    /// Channels of the convolutional stem in front of the patch embedding; 0 embeds raw pixels. Raw pixel patches left
    /// counting at chance after every warm start tried; the stem's edge and shape features make it learnable.
    /// </summary>
    public int StemChannels { get; init; } = 32;

    /// <summary>
    /// Trains the language model only: a Hugging Face Qwen2-VL-family policy's vision tower (and merger) gets no
    /// gradient and keeps its weights. Grid's own small model has no separate tower, so it refuses the setting.
    /// </summary>
    public bool FreezeVision { get; init; }
}
