using Grid.Core.Settings;
using Grid.Policy.Checkpoints;
using Grid.Policy.Qwen;
using Grid.Policy.Model;
using Grid.Training.Settings;

namespace Grid.Training.Runs;

/// <summary>
/// Checks on the machine a command runs on, made before any expensive work: output folders and files can be written,
/// checkpoints are complete and readable. Each refusal names the setting or option, the path and the fix.
/// </summary>
public static class RunPreflight
{
    /// <summary>What one step of training (a GRPO step's completions, or an SFT batch) may be estimated to hold in memory.</summary>
    public const long StepMemoryBudgetBytes = 3L << 30;

    /// <summary>
    /// The run's output_directory can be written, its init_checkpoint (if any) is a readable checkpoint, and one step's
    /// estimated memory is within <see cref="StepMemoryBudgetBytes"/>.
    /// </summary>
    public static void Check(RunSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        RequireStepMemory(settings);
        RequireWritableFolder(settings.OutputDirectory, "output_directory");
        RequireDataFile(settings.Data.Train, "data.train");
        RequireDataFile(settings.Data.Eval, "data.eval");
        if (settings.InitCheckpoint is not null)
        {
            RequireCheckpoint(settings.InitCheckpoint, "init_checkpoint", settings.MaxNewTokens, "max_new_tokens",
                Data.RunData.TokenizerFor(settings));
        }
    }

    /// <summary>
    /// A dataset file setting names an existing regular file (unset is fine): a FIFO or device there would block or never
    /// end the read that loads it. Only the file's kind is checked here, not its records.
    /// </summary>
    private static void RequireDataFile(string? path, string setting)
    {
        if (path is null)
        {
            return;
        }

        string full = FullPath(path, setting);
        Core.Files.InputFile.RequireReadable(full, setting);
        if (!File.Exists(full))
        {
            throw new InvalidSettingException(setting, path, $"an existing JSONL dataset file, but there is none at {full}");
        }
    }

    /// <summary>Creates the folder if needed and proves a file can be created in it (the probe is deleted).</summary>
    public static void RequireWritableFolder(string path, string setting)
    {
        string full = FullPath(path, setting);
        if (File.Exists(full))
        {
            throw new InvalidSettingException(setting, path, $"a folder, but {full} is a file; give a folder path");
        }

        try
        {
            Directory.CreateDirectory(full);
            using var probe = new FileStream(Path.Combine(full, $".grid-write-check-{Guid.NewGuid():N}"), FileMode.CreateNew,
                FileAccess.Write, FileShare.None, bufferSize: 1, FileOptions.DeleteOnClose);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new InvalidSettingException(setting, path,
                $"a folder this user can create and write in, but {full} is not ({e.Message}); give another folder or fix its permissions");
        }
    }

    /// <summary>
    /// Proves <paramref name="path"/> can be written as a file without changing it: its folder exists and takes a new
    /// file, and an existing file opens for writing (it is not truncated here).
    /// </summary>
    public static void RequireWritableFile(string path, string option)
    {
        string full = FullPath(path, option);
        if (Directory.Exists(full))
        {
            throw new InvalidSettingException(option, path, $"a file path, but {full} is a folder; give a file name inside it");
        }

        string? folder = Path.GetDirectoryName(full);
        if (folder is null || !Directory.Exists(folder))
        {
            throw new InvalidSettingException(option, path, $"a file in an existing folder, but {folder ?? full} does not exist; create it first");
        }

        if (Core.Files.InputFile.KindOf(full) is Core.Files.FileKind.Fifo or Core.Files.FileKind.Socket)
        {
            // Opening a FIFO for writing blocks until a reader comes, which may be never.
            throw new InvalidSettingException(option, path, $"a regular file path, but {full} is a FIFO or socket; give a file path");
        }

        try
        {
            if (File.Exists(full))
            {
                using var existing = new FileStream(full, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            }
            else
            {
                using var probe = new FileStream(full, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1,
                    FileOptions.DeleteOnClose);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new InvalidSettingException(option, path,
                $"a file this user can write, but {full} is not writable ({e.Message}); give another path or fix its permissions");
        }
    }

    /// <summary>
    /// Bytes one step holds for <paramref name="sequences"/> sequences trained at once, estimated per token of the
    /// model's sequence: about 12.4 KB (image stem, logits) plus 43 bytes per d_model x layers, plus 16 bytes per
    /// transformer weight (weights, gradients, AdamW's two moments). Fitted to measured peaks of one in-process GRPO
    /// step (docs/operations.md, "Measured"); a rough guide that underestimates the largest shapes allowed.
    /// </summary>
    public static long EstimatedStepBytes(RunSettings settings, long sequences)
    {
        ArgumentNullException.ThrowIfNull(settings);
        long tokens = PolicyRuntime.ConfigFor(settings.Model, settings.MaxNewTokens).MaxSequenceLength;
        double perToken = 12_400 + (43.0 * settings.Model.DModel * settings.Model.Layers);
        long weights = 12L * settings.Model.DModel * settings.Model.DModel * settings.Model.Layers;
        return (long)(sequences * tokens * perToken) + (16 * weights);
    }

    /// <summary>Refuses settings whose GRPO step (prompts_per_step x group_size completions) or SFT batch is estimated
    /// to need more than <see cref="StepMemoryBudgetBytes"/>.</summary>
    public static void RequireStepMemory(RunSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        long completions = (long)settings.PromptsPerStep * settings.GroupSize;
        long fixedBytes = EstimatedStepBytes(settings, 0);
        long perSequence = Math.Max(1, EstimatedStepBytes(settings, 1) - fixedBytes);
        long fits = Math.Max(0, StepMemoryBudgetBytes - fixedBytes) / perSequence;
        string model = $"model d_model {settings.Model.DModel} x {settings.Model.Layers} layers, max_new_tokens {settings.MaxNewTokens}";
        if (completions > fits)
        {
            throw new InvalidSettingException("prompts_per_step", settings.PromptsPerStep,
                $"at most {Math.Max(1, fits / settings.GroupSize)} with group_size {settings.GroupSize}: a GRPO step of "
                + $"{completions} completions with this {model} needs about {EstimatedStepBytes(settings, completions) >> 20} MB, "
                + $"more than the {StepMemoryBudgetBytes >> 20} MB a step may take; lower prompts_per_step, group_size or the model");
        }

        if (settings.InitCheckpoint is null && settings.Sft.Steps > 0 && settings.Sft.BatchSize > fits)
        {
            throw new InvalidSettingException("sft.batch_size", settings.Sft.BatchSize,
                $"at most {fits} with this {model}: an SFT batch of {settings.Sft.BatchSize} needs about "
                + $"{EstimatedStepBytes(settings, settings.Sft.BatchSize) >> 20} MB, more than the {StepMemoryBudgetBytes >> 20} MB a step may take");
        }
    }

    /// <summary>
    /// A complete checkpoint whose files are where its manifest says, with the recorded sizes (weights unread); with
    /// <paramref name="maxNewTokens"/>, one whose sequence has room for the longest prompt and that many new tokens.
    /// A checkpoint of another tokenizer than <paramref name="tokenizer"/> (default: the default one) is refused.
    /// </summary>
    public static PolicyConfig RequireCheckpoint(string path, string setting, int? maxNewTokens = null, string tokensSetting = "max_new_tokens",
        Policy.Tokenization.Tokenizer? tokenizer = null)
    {
        FullPath(path, setting);
        if (PolicyFolder.IsHuggingFace(path))
        {
            // The context (max_position_embeddings, tens of thousands of positions) leaves room for any max_new_tokens.
            HuggingFaceCheckpoint.Inspect(path);
            return PolicyConfig.ForHub(path);
        }

        var config = PolicyCheckpoint.Inspect(path, tokenizer).Config;
        int room = config.MaxTextLength - PolicyRuntime.MaxPromptTokens;
        if (maxNewTokens is int tokens && tokens > room)
        {
            throw new InvalidSettingException(tokensSetting, tokens,
                $"at most {Math.Max(0, room)} with the {setting} {path}: its policy has room for {config.MaxTextLength} text tokens "
                + $"after the {config.PatchCount} image patches, and prompts take up to {PolicyRuntime.MaxPromptTokens}; lower "
                + $"{tokensSetting} or use a checkpoint trained with it");
        }

        return config;
    }

    private static string FullPath(string path, string setting)
    {
        if (string.IsNullOrWhiteSpace(path) || path.Length > RunSettingsValidator.MaxPathLength || path.Any(char.IsControl))
        {
            throw new InvalidSettingException(setting, path,
                $"a path of at most {RunSettingsValidator.MaxPathLength} characters, without control characters");
        }

        try
        {
            return Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new InvalidSettingException(setting, path, $"a valid path ({e.Message})");
        }
    }
}
