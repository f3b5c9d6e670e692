using System.Text.Encodings.Web;
using System.Text.Json;
using Grid.Tasks.Images;

namespace Grid.Tasks.Datasets;

/// <summary>
/// Writes examples as a JSONL file (one record per line, fields in <see cref="DatasetFields"/>) with each image
/// a PNG in an "images" folder next to it, named after the example's id.
/// </summary>
public static class DatasetWriter
{
    public const string ImageFolder = "images";

    private static readonly JsonWriterOptions s_jsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <returns>The number of records written.</returns>
    /// <exception cref="ArgumentException">An id is empty, repeated, or not usable as a file name.</exception>
    public static int Export(IEnumerable<TaskExample> examples, string jsonlPath)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentException.ThrowIfNullOrWhiteSpace(jsonlPath);
        string folder = Path.GetDirectoryName(Path.GetFullPath(jsonlPath))!;
        Directory.CreateDirectory(Path.Combine(folder, ImageFolder));
        var ids = new HashSet<string>(StringComparer.Ordinal);
        using var file = new FileStream(jsonlPath, FileMode.Create, FileAccess.Write);
        foreach (var example in examples)
        {
            ArgumentNullException.ThrowIfNull(example, nameof(examples));
            if (!IsFileNameSafe(example.Id))
            {
                throw new ArgumentException(
                    $"Example id \"{example.Id}\" cannot name its image file; use letters, digits, '-', '_' or '.', "
                    + "not starting with '.'.", nameof(examples));
            }

            if (!ids.Add(example.Id))
            {
                throw new ArgumentException(
                    $"Example id \"{example.Id}\" appears twice; ids must be unique.", nameof(examples));
            }

            string image = $"{ImageFolder}/{example.Id}.png";
            File.WriteAllBytes(Path.Combine(folder, image), PngCodec.Encode(example.Image));
            WriteRecord(file, example, image, withAnswerRule: false);
        }

        return ids.Count;
    }

    /// <summary>
    /// One line of Grid's JSONL: the example's fields with <paramref name="image"/> (relative to the file), and with
    /// <paramref name="withAnswerRule"/> its answer kind and a non-zero tolerance (built-in exports leave them out).
    /// </summary>
    internal static void WriteRecord(Stream file, TaskExample example, string image, bool withAnswerRule)
    {
        using (var json = new Utf8JsonWriter(file, s_jsonOptions))
        {
            json.WriteStartObject();
            json.WriteString(DatasetFields.Id, example.Id);
            json.WriteString(DatasetFields.Task, example.Task);
            json.WriteString(DatasetFields.Question, example.Question);
            json.WriteString(DatasetFields.Answer, example.Answer);
            json.WriteString(DatasetFields.Image, image);
            json.WriteString(DatasetFields.Reasoning, example.Reasoning);
            if (withAnswerRule)
            {
                json.WriteString(DatasetFields.AnswerKind, example.AnswerRule.KindName);
                if (example.AnswerRule.Tolerance != 0)
                {
                    json.WriteNumber(DatasetFields.Tolerance, example.AnswerRule.Tolerance);
                }
            }

            json.WriteEndObject();
        }

        file.WriteByte((byte)'\n');
    }

    /// <summary>Examples 0..count-1 of <paramref name="task"/>'s stream for <paramref name="seed"/>, exported.</summary>
    public static int ExportGenerated(IVisualTask task, long seed, int count, string jsonlPath)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return Export(Enumerable.Range(0, count).Select(index => task.Generate(seed, index)), jsonlPath);
    }

    private static bool IsFileNameSafe(string id) =>
        id.Length is > 0 and <= 200 && id[0] != '.' && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}
