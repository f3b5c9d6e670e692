using System.Text;
using System.Text.Json;
using Grid.Tasks.Images;

namespace Grid.Tasks.Datasets;

/// <summary>
/// Loads a JSONL dataset written by <see cref="DatasetWriter"/> or by hand. Users bring their own data, so every
/// record is checked and the first bad one is refused with a <see cref="DatasetFormatException"/> naming the file,
/// the line, what is wrong and what to do. Blank lines are skipped; "reasoning" is optional.
/// </summary>
public static class DatasetReader
{
    private static readonly string[] s_requiredFields =
        [DatasetFields.Id, DatasetFields.Task, DatasetFields.Question, DatasetFields.Answer, DatasetFields.Image];

    /// <exception cref="FileNotFoundException">There is no file at <paramref name="jsonlPath"/>.</exception>
    /// <exception cref="DatasetFormatException">A record is malformed or its image is missing, outside the
    /// dataset's folder, or not a PNG.</exception>
    public static IReadOnlyList<TaskExample> Load(string jsonlPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(jsonlPath);
        string fullPath = Path.GetFullPath(jsonlPath);
        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException($"No dataset file at {fullPath}. Check the path, or create one with "
                + "'grid dataset export'.", fullPath);
        }

        string folder = Path.GetDirectoryName(fullPath)!;
        var examples = new List<TaskExample>();
        var lineOfId = new Dictionary<string, int>(StringComparer.Ordinal);
        int lineNumber = 0;
        foreach (string line in File.ReadLines(fullPath, Encoding.UTF8))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var example = ReadRecord(line, folder, new LineContext(jsonlPath, lineNumber));
            if (lineOfId.TryGetValue(example.Id, out int firstLine))
            {
                throw new DatasetFormatException(jsonlPath, lineNumber,
                    $"duplicate id \"{example.Id}\", already used on line {firstLine}. Give every record its own id.");
            }

            lineOfId[example.Id] = lineNumber;
            examples.Add(example);
        }

        return examples;
    }

    private static TaskExample ReadRecord(string line, string folder, LineContext at)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException error)
        {
            throw at.Refuse($"malformed JSON ({error.Message}). Each line must be one JSON object, e.g. "
                + DatasetFields.ExampleRecord, error);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw at.Refuse($"the line is a JSON {root.ValueKind}, not an object. Each line must be one JSON object, "
                    + "e.g. " + DatasetFields.ExampleRecord);
            }

            var missing = s_requiredFields.Where(name => !root.TryGetProperty(name, out _)).ToList();
            if (missing.Count > 0)
            {
                throw at.Refuse($"missing required field{(missing.Count > 1 ? "s" : "")} "
                    + string.Join(", ", missing.Select(name => $"\"{name}\""))
                    + $". A record needs {string.Join(", ", s_requiredFields)} (and may have reasoning), e.g. "
                    + DatasetFields.ExampleRecord);
            }

            string id = RequireText(root, DatasetFields.Id, at);
            string task = RequireText(root, DatasetFields.Task, at);
            if (!TaskCatalog.TryGet(task, out _))
            {
                throw at.Refuse($"unknown task \"{task}\". Known tasks: {string.Join(", ", TaskCatalog.Names)}.");
            }

            string question = RequireText(root, DatasetFields.Question, at);
            string answer = RequireText(root, DatasetFields.Answer, at);
            string imagePath = RequireText(root, DatasetFields.Image, at);
            string reasoning = OptionalText(root, DatasetFields.Reasoning, at);
            var image = LoadImage(imagePath, folder, at);
            return new TaskExample(id, task, question, answer, image, reasoning);
        }
    }

    /// <summary>A JSON string that is not empty or blank.</summary>
    private static string RequireText(JsonElement record, string field, LineContext at)
    {
        var value = record.GetProperty(field);
        if (value.ValueKind != JsonValueKind.String)
        {
            string raw = value.GetRawText();
            throw at.Refuse($"field \"{field}\" is a JSON {value.ValueKind} ({Shorten(raw)}); it must be a string, "
                + $"e.g. \"{field}\": \"{Shorten(raw.Trim('"'))}\".");
        }

        string text = value.GetString()!;
        if (string.IsNullOrWhiteSpace(text))
        {
            throw at.Refuse($"field \"{field}\" is empty. Give it a value{(field == DatasetFields.Answer
                ? ", the ground truth the verifier compares with, e.g. \"answer\": \"3\"" : "")}.");
        }

        return text;
    }

    private static string OptionalText(JsonElement record, string field, LineContext at)
    {
        if (!record.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return "";
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw at.Refuse($"field \"{field}\" is a JSON {value.ValueKind}; it must be a string or left out.");
    }

    private static RgbImage LoadImage(string imagePath, string folder, LineContext at)
    {
        string fullPath = ResolveInside(imagePath, folder, at);
        if (!File.Exists(fullPath))
        {
            throw at.Refuse($"image \"{imagePath}\" is missing (looked for {fullPath}). Put the PNG there or fix the "
                + "path; it is relative to the dataset file's folder.");
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(fullPath);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw at.Refuse($"image \"{imagePath}\" is unreadable ({error.Message}). Check its permissions.", error);
        }

        try
        {
            return PngCodec.Decode(bytes);
        }
        catch (InvalidDataException error)
        {
            throw at.Refuse($"image \"{imagePath}\" is not a valid PNG: {error.Message}", error);
        }
    }

    /// <summary>
    /// The full path of a relative image path, refusing anything that could read outside the dataset's folder:
    /// absolute paths, "..", backslashes, and symbolic links whose target lies outside.
    /// </summary>
    private static string ResolveInside(string imagePath, string folder, LineContext at)
    {
        const string fix = "Image paths must be relative to the dataset file's folder and stay inside it, "
            + "e.g. \"images/x.png\"; copy the image into the folder.";
        if (Path.IsPathRooted(imagePath) || imagePath.Contains('\\'))
        {
            throw at.Refuse($"image path \"{imagePath}\" is not a relative path with forward slashes. {fix}");
        }

        string root = Path.TrimEndingDirectorySeparator(folder) + Path.DirectorySeparatorChar;
        string fullPath = Path.GetFullPath(Path.Combine(folder, imagePath));
        if (!fullPath.StartsWith(root, StringComparison.Ordinal)
            || imagePath.Split('/').Contains(".."))
        {
            throw at.Refuse($"image path \"{imagePath}\" escapes the dataset's folder {folder}. {fix}");
        }

        // Walk each component below the folder: a symbolic link must point back inside.
        string current = folder;
        foreach (string part in Path.GetRelativePath(folder, fullPath).Split(Path.DirectorySeparatorChar))
        {
            current = Path.Combine(current, part);
            var info = new FileInfo(current);
            if (info.LinkTarget is null)
            {
                continue;
            }

            var target = info.ResolveLinkTarget(returnFinalTarget: true);
            string targetPath = target is null ? "(unresolvable)" : Path.GetFullPath(target.FullName);
            if (target is null || !targetPath.StartsWith(root, StringComparison.Ordinal))
            {
                throw at.Refuse($"image path \"{imagePath}\" goes through the symbolic link {current}, which points "
                    + $"outside the dataset's folder, to {targetPath}. {fix}");
            }
        }

        return fullPath;
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..37] + "...";

    private readonly record struct LineContext(string FilePath, int LineNumber)
    {
        public DatasetFormatException Refuse(string reason, Exception? inner = null) =>
            new(FilePath, LineNumber, reason, inner);
    }
}
