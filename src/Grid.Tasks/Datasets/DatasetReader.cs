using System.Text;
using System.Text.Json;
using Grid.Core.Files;
using Grid.Core.Settings;
using Grid.Tasks.Images;
using Grid.Tasks.Rewards;

namespace Grid.Tasks.Datasets;

/// <summary>
/// Loads a JSONL dataset written by <see cref="DatasetWriter"/> or by hand, in Grid's layout or the R1-V /
/// open-r1-multimodal layout (docs/datasets.md; each record's layout is recognised by its fields: one with
/// "problem" is R1-V). Users bring their own data, so every record is checked and the first bad one is refused with a
/// <see cref="DatasetFormatException"/> naming the file, the line, what is wrong and what to do. Blank lines are
/// skipped, a UTF-8 byte order mark at the start is skipped, CRLF line ends are accepted, a file without records is
/// refused; "reasoning" is optional.
/// </summary>
public static class DatasetReader
{
    private static readonly string[] s_requiredFields =
        [DatasetFields.Id, DatasetFields.Task, DatasetFields.Question, DatasetFields.Answer, DatasetFields.Image];

    /// <summary>A record (one line) longer than this many bytes is refused; records are short JSON objects.</summary>
    public const int MaxLineLength = 1 << 20;

    /// <summary>An image file larger than this is refused unread.</summary>
    public const long MaxImageFileBytes = PolicyImage.MaxFileBytes;

    /// <summary>
    /// All of a loaded dataset's images together may declare at most this many pixels (3 bytes each in memory,
    /// 768 MB): about 110,000 task images of 48x48. <see cref="Read"/> streams and has no such total.
    /// </summary>
    public const long MaxTotalPixels = 256L << 20;

    /// <summary>A field given twice in one record is refused: which one counts would be a guess.</summary>
    private static readonly JsonDocumentOptions RecordOptions = new() { AllowDuplicateProperties = false };

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Every record of the dataset, in memory (see <see cref="MaxTotalPixels"/>).</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="jsonlPath"/>.</exception>
    /// <exception cref="DatasetFormatException">A record is malformed or its image is missing, outside the
    /// dataset's folder, not a PNG, or too large.</exception>
    public static IReadOnlyList<TaskExample> Load(string jsonlPath, DatasetReadOptions? options = null)
    {
        var examples = new List<TaskExample>();
        long pixels = 0;
        foreach (var (example, lineNumber, _) in ReadEntries(jsonlPath, options))
        {
            pixels += (long)example.Image.Width * example.Image.Height;
            if (pixels > MaxTotalPixels)
            {
                throw new DatasetFormatException(jsonlPath, lineNumber,
                    $"the images up to this record hold {pixels} pixels, more than the {MaxTotalPixels} one dataset may hold "
                    + "in memory. Split the dataset or scale its images down (task images are 48x48).");
            }

            examples.Add(example);
        }

        return examples;
    }

    /// <summary>
    /// The records one by one, each checked as <see cref="Load"/> checks it (duplicate ids included), holding only the
    /// current image in memory: for checking a dataset of any size.
    /// </summary>
    public static IEnumerable<TaskExample> Read(string jsonlPath, DatasetReadOptions? options = null) =>
        ReadEntries(jsonlPath, options).Select(entry => entry.Example);

    /// <summary>As <see cref="Read"/>, with each record's 1-based line number.</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="jsonlPath"/> (thrown at once).</exception>
    public static IEnumerable<DatasetEntry> ReadEntries(string jsonlPath, DatasetReadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(jsonlPath);
        if (InputFile.Refusal(jsonlPath) is { } why && InputFile.KindOf(jsonlPath) != FileKind.Directory)
        {
            throw new InvalidDataException($"The dataset file \"{InvalidSettingException.Format(jsonlPath)[1..^1]}\" is {why}. "
                + "Pass a JSONL file, or create one with 'grid dataset export'.");
        }

        string fullPath = Path.GetFullPath(jsonlPath);
        if (Directory.Exists(fullPath))
        {
            throw new FileNotFoundException($"{fullPath} is a folder, not a dataset file. Pass the JSONL file inside it, "
                + "or create one with 'grid dataset export'.", fullPath);
        }

        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException($"No dataset file at {fullPath}. Check the path, or create one with "
                + "'grid dataset export'.", fullPath);
        }

        return Records(jsonlPath, fullPath, options ?? DatasetReadOptions.Default);
    }

    private static IEnumerable<DatasetEntry> Records(string jsonlPath, string fullPath, DatasetReadOptions options)
    {
        string folder = Path.GetDirectoryName(fullPath)!;
        string stem = Path.GetFileNameWithoutExtension(fullPath);
        var lineOfId = new Dictionary<string, int>(StringComparer.Ordinal);
        int lineNumber = 0;
        using var reader = Open(jsonlPath, fullPath);
        var line = new MemoryStream();
        while (ReadLine(reader, line, jsonlPath, lineNumber + 1))
        {
            lineNumber++;
            string text = Decode(line, jsonlPath, lineNumber);
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            var (example, imageFile) = ReadRecord(text, folder, stem, options, new LineContext(jsonlPath, lineNumber));
            if (lineOfId.TryGetValue(example.Id, out int firstLine))
            {
                throw new DatasetFormatException(jsonlPath, lineNumber,
                    $"duplicate id \"{example.Id}\", already used on line {firstLine}. Give every record its own id.");
            }

            lineOfId[example.Id] = lineNumber;
            yield return new DatasetEntry(example, lineNumber, imageFile);
        }

        if (lineOfId.Count == 0)
        {
            throw new DatasetFormatException(jsonlPath, Math.Max(lineNumber, 1),
                $"the file holds no records ({(lineNumber == 0 ? "it is empty" : $"{lineNumber} blank lines")}). Put one JSON "
                + "record per line, e.g. " + DatasetFields.ExampleRecord + ", or check that this is the right file.");
        }
    }

    private static BufferedStream Open(string jsonlPath, string fullPath)
    {
        try
        {
            return new BufferedStream(new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read), 1 << 16);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw new DatasetFormatException(jsonlPath, 0, $"the file is unreadable ({error.Message}). Check its permissions.", error);
        }
    }

    /// <summary>The next line's bytes into <paramref name="line"/>; false at the end. Refuses overlong lines.</summary>
    private static bool ReadLine(BufferedStream reader, MemoryStream line, string jsonlPath, int lineNumber)
    {
        line.SetLength(0);
        try
        {
            int b = reader.ReadByte();
            if (b < 0)
            {
                return false;
            }

            while (b >= 0 && b != '\n')
            {
                if (line.Length >= MaxLineLength)
                {
                    throw new DatasetFormatException(jsonlPath, lineNumber,
                        $"the line is longer than {MaxLineLength} bytes. Each line must be one short JSON record, e.g. "
                        + DatasetFields.ExampleRecord + " (is this a JSONL dataset file?)");
                }

                line.WriteByte((byte)b);
                b = reader.ReadByte();
            }

            return true;
        }
        catch (IOException error)
        {
            throw new DatasetFormatException(jsonlPath, lineNumber, $"the file cannot be read ({error.Message}).", error);
        }
    }

    /// <summary>The line as text: strict UTF-8 (a leading byte order mark and a trailing carriage return dropped).</summary>
    private static string Decode(MemoryStream line, string jsonlPath, int lineNumber)
    {
        var bytes = line.GetBuffer().AsSpan(0, (int)line.Length);
        if (lineNumber == 1 && bytes.StartsWith("\uFEFF"u8))
        {
            bytes = bytes[3..];
        }

        if (bytes.EndsWith("\r"u8))
        {
            bytes = bytes[..^1];
        }

        try
        {
            return s_strictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException error)
        {
            throw new DatasetFormatException(jsonlPath, lineNumber,
                $"the line is not valid UTF-8 ({error.Message}). Save the file as UTF-8 text (is this a JSONL dataset file?)", error);
        }
    }

    private static (TaskExample, string) ReadRecord(string line, string folder, string stem, DatasetReadOptions options, LineContext at)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line, RecordOptions);
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

            if (root.TryGetProperty(R1VFields.Problem, out _))
            {
                return ReadR1VRecord(root, folder, stem, options, at);
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
            var rule = ReadAnswerRule(root, options, at);
            if (!TaskCatalog.TryGet(task, out _) && !(root.TryGetProperty(DatasetFields.AnswerKind, out _) || options.AnswerRule is not null))
            {
                throw at.Refuse($"unknown task \"{task}\". Known tasks: {string.Join(", ", TaskCatalog.Names)}. For your "
                    + $"own data, name the task freely and state how answers are checked: \"{DatasetFields.AnswerKind}\": one of "
                    + $"{string.Join(", ", AnswerRule.KindNames)}.");
            }

            RequireTaskName(task, at);
            string question = RequireText(root, DatasetFields.Question, at);
            string answer = RequireText(root, DatasetFields.Answer, at);
            RequireAnswer(rule, answer, at);
            string imagePath = RequireText(root, DatasetFields.Image, at);
            string reasoning = OptionalText(root, DatasetFields.Reasoning, at);
            var (image, imageFile) = LoadImage(imagePath, folder, options, at);
            return (new TaskExample(id, task, question, answer, image, reasoning) { AnswerRule = rule }, imageFile);
        }
    }

    /// <summary>An R1-V / open-r1-multimodal record: "image", "problem", "solution" with the answer in
    /// &lt;answer&gt;...&lt;/answer&gt; (and optionally the reasoning in &lt;think&gt;...&lt;/think&gt;).</summary>
    private static (TaskExample, string) ReadR1VRecord(JsonElement root, string folder, string stem, DatasetReadOptions options, LineContext at)
    {
        string imageField = root.TryGetProperty(R1VFields.Image, out _) ? R1VFields.Image
            : root.TryGetProperty(R1VFields.ImagePath, out _) ? R1VFields.ImagePath : "";
        if (imageField.Length == 0 || !root.TryGetProperty(R1VFields.Solution, out _))
        {
            throw at.Refuse("an R1-V record (it has \"problem\") needs \"image\" (or \"image_path\"), \"problem\" and "
                + "\"solution\", e.g. " + R1VFields.ExampleRecord);
        }

        string id = root.TryGetProperty(DatasetFields.Id, out var idValue) && idValue.ValueKind == JsonValueKind.Number
            ? idValue.GetRawText()
            : root.TryGetProperty(DatasetFields.Id, out _) ? RequireText(root, DatasetFields.Id, at) : $"{stem}-{at.LineNumber:D7}";
        string task = root.TryGetProperty(DatasetFields.Task, out _) ? RequireText(root, DatasetFields.Task, at) : options.DefaultTask;
        RequireTaskName(task, at);
        var rule = ReadAnswerRule(root, options, at);
        string question = RequireText(root, R1VFields.Problem, at);
        string solution = RequireText(root, R1VFields.Solution, at);
        string answer = (CompletionFormat.ExtractAnswer(solution) ?? "").Trim();
        if (answer.Length == 0)
        {
            throw at.Refuse($"\"solution\" ({Shorten(solution)}) has no single non-empty <answer>...</answer>. Put the "
                + "ground truth inside one answer tag, e.g. \"solution\": \"<answer>3</answer>\".");
        }

        RequireAnswer(rule, answer, at);
        string reasoning = OptionalText(root, DatasetFields.Reasoning, at);
        if (reasoning.Length == 0)
        {
            int open = solution.IndexOf(CompletionFormat.ThinkOpen, StringComparison.Ordinal);
            int close = solution.IndexOf(CompletionFormat.ThinkClose, StringComparison.Ordinal);
            reasoning = open >= 0 && close > open ? solution[(open + CompletionFormat.ThinkOpen.Length)..close].Trim() : "";
        }

        string imagePath = RequireText(root, imageField, at);
        var (image, imageFile) = LoadImage(imagePath, folder, options, at);
        return (new TaskExample(id, task, question, answer, image, reasoning) { AnswerRule = rule }, imageFile);
    }

    /// <summary>The record's "answer_kind" and "tolerance", else the dataset's rule, else <see cref="AnswerRule.Auto"/>.</summary>
    private static AnswerRule ReadAnswerRule(JsonElement root, DatasetReadOptions options, LineContext at)
    {
        bool hasKind = root.TryGetProperty(DatasetFields.AnswerKind, out var kindValue) && kindValue.ValueKind != JsonValueKind.Null;
        bool hasTolerance = root.TryGetProperty(DatasetFields.Tolerance, out var toleranceValue)
            && toleranceValue.ValueKind != JsonValueKind.Null;
        if (!hasKind && !hasTolerance)
        {
            return options.AnswerRule ?? AnswerRule.Auto;
        }

        var kind = (options.AnswerRule ?? AnswerRule.Auto).Kind;
        if (hasKind && (kindValue.ValueKind != JsonValueKind.String || !AnswerRule.TryParseKind(kindValue.GetString()!, out kind)))
        {
            throw at.Refuse($"\"{DatasetFields.AnswerKind}\" is {Shorten(kindValue.GetRawText())}; it must be one of "
                + $"{string.Join(", ", AnswerRule.KindNames.Select(n => $"\"{n}\""))}.");
        }

        decimal tolerance = 0;
        if (hasTolerance && (toleranceValue.ValueKind != JsonValueKind.Number || !toleranceValue.TryGetDecimal(out tolerance)
            || tolerance < 0))
        {
            throw at.Refuse($"\"{DatasetFields.Tolerance}\" is {Shorten(toleranceValue.GetRawText())}; it must be a number "
                + "0 or more (the largest accepted absolute difference), e.g. \"tolerance\": 0.01.");
        }

        return new AnswerRule(kind, tolerance);
    }

    private static void RequireAnswer(AnswerRule rule, string answer, LineContext at)
    {
        if (rule.Refusal(answer) is { } refusal)
        {
            throw at.Refuse($"{refusal} (answer kind {rule}).");
        }
    }

    private static void RequireTaskName(string task, LineContext at)
    {
        if (task.Length > 64 || !task.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw at.Refuse($"task name \"{Shorten(task)}\" must be 1-64 ASCII letters, digits, '-', '_' or '.', e.g. "
                + "\"clevr-counting\".");
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

    private static (RgbImage, string) LoadImage(string imagePath, string folder, DatasetReadOptions options, LineContext at)
    {
        string fullPath = ResolveInside(imagePath, folder, at);
        if (Directory.Exists(fullPath))
        {
            throw at.Refuse($"image \"{imagePath}\" is a folder ({fullPath}), not an image file. Point \"image\" at a PNG or JPEG file.");
        }

        if (InputFile.Refusal(fullPath) is { } why)
        {
            throw at.Refuse($"image \"{imagePath}\" ({fullPath}) is {why}. Point \"image\" at a PNG or JPEG file.");
        }

        if (!File.Exists(fullPath))
        {
            throw at.Refuse($"image \"{imagePath}\" is missing (looked for {fullPath}). Put the image there or fix the "
                + "path; it is relative to the dataset file's folder.");
        }

        byte[] bytes;
        try
        {
            using var file = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (file.Length > MaxImageFileBytes)
            {
                throw at.Refuse($"image \"{imagePath}\" ({fullPath}) has {file.Length} bytes, more than the limit of "
                    + $"{MaxImageFileBytes}; it was not read. Scale the image down (task images are 48x48).");
            }

            var header = new byte[PngCodec.HeaderBytes];
            int headerRead = file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            if (PngCodec.HasPngSignature(header.AsSpan(0, headerRead)))
            {
                try
                {
                    // A PNG's size is in its first bytes: refuse a bomb before reading the rest of the file.
                    var (width, height) = PngCodec.ReadDeclaredSize(header.AsSpan(0, headerRead));
                    if (PngCodec.TooLarge(width, height, options.MaxPixels) is { } refusal)
                    {
                        throw at.Refuse($"image \"{imagePath}\" ({fullPath}) is too large: {refusal}.");
                    }
                }
                catch (InvalidDataException error)
                {
                    throw at.Refuse($"image \"{imagePath}\" is not a valid PNG: {error.Message}", error);
                }
            }

            file.Position = 0;
            bytes = new byte[file.Length];
            file.ReadExactly(bytes);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw at.Refuse($"image \"{imagePath}\" is unreadable ({error.Message}). Check its permissions.", error);
        }

        try
        {
            return (PolicyImage.Decode(bytes, options.ImageSize, options.MaxPixels), fullPath);
        }
        catch (InvalidDataException error)
        {
            throw at.Refuse($"image \"{imagePath}\" ({fullPath}) is not a valid PNG or JPEG image: {error.Message}", error);
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
        if (imagePath.Any(char.IsControl))
        {
            throw at.Refuse($"image path {InvalidSettingException.Format(imagePath)} holds a control character. {fix}");
        }

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
            if (InputFile.KindOf(current) == FileKind.SymbolicLinkLoop)
            {
                throw at.Refuse($"image path \"{imagePath}\" goes through {current}, a symbolic link loop (too many levels of links). {fix}");
            }

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

/// <summary>One record of a dataset file, the line it is on and the full path of its image file.</summary>
public readonly record struct DatasetEntry(TaskExample Example, int Line, string ImageFile);

/// <summary>How a dataset is read.</summary>
/// <param name="AnswerRule">The dataset's answer kind for records that state none; null: <see cref="AnswerRule.Auto"/>
/// (and Grid records must then name a built-in task or state their own kind).</param>
/// <param name="ImageSize">The policy's image side: images are converted by <see cref="PolicyImage"/>'s rule to this
/// size. Null keeps each image's decoded size (alpha still composited on white).</param>
/// <param name="DefaultTask">The task name of R1-V records that have no "task" field.</param>
/// <param name="MaxPixels">Images declaring more pixels are refused before decoding.</param>
public sealed record DatasetReadOptions(
    AnswerRule? AnswerRule = null, int? ImageSize = null, string DefaultTask = "custom", long MaxPixels = PngCodec.MaxPixels)
{
    public static DatasetReadOptions Default { get; } = new();
}
