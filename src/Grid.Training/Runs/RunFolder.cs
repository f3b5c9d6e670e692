using System.Text.Json;
using Grid.Core;
using Grid.Training.Metrics;
using Grid.Training.Settings;

namespace Grid.Training.Runs;

/// <summary>
/// The folder of one run: <c>settings.json</c>, <c>metrics.jsonl</c> (one line per GRPO step),
/// <c>sft.jsonl</c>, <c>checkpoints/step-NNNNNN/</c>, <c>eval-*.json</c> and <c>summary.json</c>.
/// </summary>
public sealed class RunFolder
{
    /// <summary>A line of a <c>.jsonl</c> file: snake_case, non-finite numbers as null (<see cref="NonFinite"/>).</summary>
    public static readonly JsonSerializerOptions LineOptions =
        NonFinite.Json(new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });

    /// <summary>A whole JSON document (summary.json, eval-*.json): the settings' format, non-finite numbers as null.</summary>
    public static readonly JsonSerializerOptions DocumentOptions = NonFinite.Json(RunSettingsLoader.JsonOptions);

    private RunFolder(string path) => Path = path;

    public string Path { get; }

    public string CheckpointsPath => System.IO.Path.Combine(Path, "checkpoints");

    /// <summary>Creates <c>{output}/{name}-{utc time}</c> (suffixing -2, -3 ... if taken) and writes the settings.</summary>
    public static RunFolder Create(RunSettings settings, DateTimeOffset now)
    {
        string stem = System.IO.Path.Combine(settings.OutputDirectory, $"{settings.Name}-{now.UtcDateTime:yyyyMMdd-HHmmss}");
        string path = stem;
        for (int n = 2; Directory.Exists(path); n++)
        {
            path = $"{stem}-{n}";
        }

        Directory.CreateDirectory(path);
        var folder = new RunFolder(System.IO.Path.GetFullPath(path));
        File.WriteAllText(System.IO.Path.Combine(folder.Path, "settings.json"), RunSettingsLoader.ToJson(settings));
        return folder;
    }

    /// <summary>An existing run folder (say, one a warm start created), to go on writing into it.</summary>
    public static RunFolder Open(string path) => Directory.Exists(path)
        ? new RunFolder(System.IO.Path.GetFullPath(path))
        : throw new DirectoryNotFoundException($"Run folder '{path}' does not exist; create it with RunFolder.Create.");

    public string CheckpointPath(long step) => System.IO.Path.Combine(CheckpointsPath, $"step-{step:D6}");

    /// <summary>Appends one JSON object as a line (a NaN or infinite number as null); the file is flushed so a crash loses at most the line being written.</summary>
    public void AppendLine<T>(string fileName, T record)
    {
        string line = JsonSerializer.Serialize(record, LineOptions) + "\n";
        using var stream = new FileStream(System.IO.Path.Combine(Path, fileName), FileMode.Append, FileAccess.Write, FileShare.Read);
        stream.Write(System.Text.Encoding.UTF8.GetBytes(line));
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Writes a JSON document atomically (temp file, then rename); a NaN or infinite number as null.</summary>
    public void WriteJson<T>(string fileName, T document)
    {
        string target = System.IO.Path.Combine(Path, fileName);
        string temp = target + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(document, DocumentOptions));
        File.Move(temp, target, overwrite: true);
    }
}
