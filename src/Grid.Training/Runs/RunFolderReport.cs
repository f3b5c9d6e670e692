using System.Text.Json;
using System.Text.Json.Serialization;
using Grid.Core;
using Grid.Core.Files;
using Grid.Training.Evaluation;
using Grid.Training.Metrics;
using Grid.Training.Settings;

namespace Grid.Training.Runs;

/// <summary>
/// What a run folder on disk says about its run, read without a cluster: the settings, every GRPO step of
/// metrics.jsonl, the SFT losses of sft.jsonl, the start and final evaluations and summary.json, each when present
/// (a run that is still going or was interrupted has only some of them).
/// </summary>
public sealed record RunFolderReport(
    string Path,
    RunSettings Settings,
    IReadOnlyList<StepMetrics> Steps,
    IReadOnlyList<SftLossLine> SftSteps,
    EvalReport? Start,
    EvalReport? Final,
    TrainingResult? Summary)
{
    public const string SettingsFile = "settings.json";

    /// <summary>A null number (a metric that was NaN or infinite when written, <see cref="NonFinite"/>) reads as NaN.</summary>
    private static readonly JsonSerializerOptions s_options = NonFinite.Json(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        ReadCommentHandling = JsonCommentHandling.Skip,
    });

    /// <summary>Completion tokens sampled over the run's GRPO steps (the sum of metrics.jsonl's tokens_generated).</summary>
    public long TokensGenerated => Steps.Sum(s => s.TokensGenerated);

    /// <summary>When the run last wrote a file in its folder (a step, an SFT loss, an evaluation, the summary).</summary>
    public DateTimeOffset LastWrite =>
        new[] { SettingsFile, "metrics.jsonl", "sft.jsonl", "eval-start.json", "eval-final.json", "summary.json" }
            .Select(file => System.IO.Path.Combine(Path, file)).Where(File.Exists)
            .Select(file => new DateTimeOffset(File.GetLastWriteTimeUtc(file), TimeSpan.Zero)).DefaultIfEmpty(DateTimeOffset.MinValue).Max();

    /// <summary>True for an existing folder holding settings.json, which every run folder is created with.</summary>
    public static bool IsRunFolder(string path) =>
        Directory.Exists(path) && File.Exists(System.IO.Path.Combine(path, SettingsFile));

    /// <summary>
    /// The checkpoint a run folder ends with: summary.json's final checkpoint once the run finished, else its newest
    /// complete one (<c>checkpoints/step-NNNNNN</c>, then <c>checkpoints/sft</c>); null when it has no complete checkpoint.
    /// A checkpoint is complete when its checkpoint.json, written last, exists.
    /// </summary>
    public static string? FinalCheckpoint(string runFolder)
    {
        static bool Complete(string folder) => File.Exists(System.IO.Path.Combine(folder, "checkpoint.json"));
        string full = System.IO.Path.GetFullPath(runFolder);
        var summary = ReadJson<TrainingResult>(full, "summary.json");
        if (summary?.FinalCheckpoint is { } final && Complete(System.IO.Path.Combine(full, final)))
        {
            return System.IO.Path.GetFullPath(System.IO.Path.Combine(full, final));
        }

        string checkpoints = System.IO.Path.Combine(full, "checkpoints");
        if (!Directory.Exists(checkpoints))
        {
            return null;
        }

        var steps = Directory.GetDirectories(checkpoints, "step-*").Where(Complete).Order(StringComparer.Ordinal);
        string sft = System.IO.Path.Combine(checkpoints, "sft");
        return steps.LastOrDefault() ?? (Complete(sft) ? sft : null);
    }

    /// <summary>
    /// The task a checkpoint was trained on with GRPO: its run's task for a <c>checkpoints/step-NNNNNN</c> folder of a run
    /// folder; null for a warm start (<c>checkpoints/sft</c>, trained on every task) and for a checkpoint outside a run.
    /// </summary>
    public static string? TrainedTaskOf(string checkpoint)
    {
        var folder = new DirectoryInfo(System.IO.Path.GetFullPath(checkpoint));
        if (folder.Parent is not { Name: "checkpoints", Parent: { } run } || !folder.Name.StartsWith("step-", StringComparison.Ordinal)
            || !IsRunFolder(run.FullName))
        {
            return null;
        }

        try
        {
            return ReadJson<RunSettings>(run.FullName, SettingsFile)?.Task;
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    public static RunFolderReport Read(string path)
    {
        if (!IsRunFolder(path))
        {
            throw new DirectoryNotFoundException(
                $"'{path}' is not a run folder: it needs a {SettingsFile} (grid train, grid sft and grid experiment write one).");
        }

        string full = System.IO.Path.GetFullPath(path);
        var settings = ReadJson<RunSettings>(full, SettingsFile)!;
        return new RunFolderReport(full, settings,
            ReadLines<StepMetrics>(full, "metrics.jsonl"),
            ReadLines<SftLossLine>(full, "sft.jsonl"),
            ReadJson<EvalReport>(full, "eval-start.json"),
            ReadJson<EvalReport>(full, "eval-final.json"),
            ReadJson<TrainingResult>(full, "summary.json"));
    }

    /// <summary>A JSON document of the run folder (eval-start.json, summary.json, ...) as written; null when absent.</summary>
    public static T? ReadJson<T>(string folder, string file)
        where T : class
    {
        string path = System.IO.Path.Combine(folder, file);
        RequireRegular(path);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), s_options)
                ?? throw new InvalidDataException($"'{path}' holds null; expected a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not a valid {file}: {e.Message}", e);
        }
    }

    private static IReadOnlyList<T> ReadLines<T>(string folder, string file)
    {
        string path = System.IO.Path.Combine(folder, file);
        RequireRegular(path);
        if (!File.Exists(path))
        {
            return [];
        }

        var lines = new List<T>();
        int number = 0;
        foreach (string line in BoundedLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                lines.Add(JsonSerializer.Deserialize<T>(line, s_options)
                    ?? throw new InvalidDataException($"Line {number} of '{path}' is null."));
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"Line {number} of '{path}' is not valid JSON: {e.Message}", e);
            }
        }

        return lines;
    }

    /// <summary>A line of metrics.jsonl or sft.jsonl holds one step; longer than this, the file is not one grid wrote.</summary>
    private const int MaxLineChars = 1 << 20;

    /// <summary>The file's lines, refusing one longer than <see cref="MaxLineChars"/> instead of reading it whole.</summary>
    private static IEnumerable<string> BoundedLines(string path)
    {
        using var reader = new StreamReader(path);
        var line = new System.Text.StringBuilder();
        var buffer = new char[1 << 16];
        int read;
        while ((read = reader.Read(buffer, 0, buffer.Length)) > 0)
        {
            int start = 0;
            for (int i = 0; i < read; i++)
            {
                if (buffer[i] == '\n')
                {
                    line.Append(buffer, start, i - start);
                    yield return line.ToString();
                    line.Clear();
                    start = i + 1;
                }
            }

            line.Append(buffer, start, read - start);
            if (line.Length > MaxLineChars)
            {
                throw new InvalidDataException($"'{path}' has a line longer than {MaxLineChars} characters; a run folder's "
                    + "JSONL files hold one short line per step. Is this a run folder?");
            }
        }

        if (line.Length > 0)
        {
            yield return line.ToString();
        }
    }

    /// <summary>A run folder's file must be a regular file: a FIFO put in its place would block the read for ever.</summary>
    private static void RequireRegular(string path)
    {
        if (InputFile.Refusal(path) is { } why && InputFile.KindOf(path) != FileKind.Missing)
        {
            throw new InvalidDataException($"'{path}' is {why}. A run folder holds only files grid wrote; is this a run folder?");
        }
    }
}
