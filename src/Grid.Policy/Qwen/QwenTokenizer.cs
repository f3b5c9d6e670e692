using System.Text;
using System.Text.Json;
using NativeTokenizer = Tokenizers.DotNet.Tokenizer;

namespace Grid.Policy.Qwen;

/// <summary>
/// A Qwen2-VL / Qwen2.5-VL checkpoint's tokenizer.json run by Hugging Face's own Rust tokenizers (through
/// Tokenizers.DotNet), so ids are the hub tokenizer's ids. <see cref="Encode"/> adds no special tokens, but special
/// tokens written in the text (e.g. "&lt;|im_end|&gt;") are recognised, as Hugging Face does. The vocabulary and
/// added tokens are read from the same file for <see cref="TokenToId"/> and for decoding with special tokens kept.
/// </summary>
public sealed class QwenTokenizer : IDisposable
{
    public const string FileName = "tokenizer.json";
    public const string ImStart = "<|im_start|>";
    public const string ImEnd = "<|im_end|>";
    public const string EndOfText = "<|endoftext|>";
    public const string VisionStart = "<|vision_start|>";
    public const string VisionEnd = "<|vision_end|>";
    public const string ImagePad = "<|image_pad|>";

    private readonly NativeTokenizer _native;
    private readonly Dictionary<string, int> _idsByToken;
    private readonly Dictionary<int, string> _specialTokensById;
    private bool _disposed;

    private QwenTokenizer(string path, NativeTokenizer native, TokenizerFile file)
    {
        Path = path;
        _native = native;
        _idsByToken = file.IdsByToken;
        _specialTokensById = file.SpecialTokensById;
        VocabularySize = file.IdsByToken.Count;
        ImStartId = RequireId(ImStart);
        ImEndId = RequireId(ImEnd);
        EndOfTextId = RequireId(EndOfText);
        VisionStartId = RequireId(VisionStart);
        VisionEndId = RequireId(VisionEnd);
        ImagePadId = RequireId(ImagePad);
    }

    /// <summary>The tokenizer.json this tokenizer was loaded from.</summary>
    public string Path { get; }

    /// <summary>Distinct tokens of the vocabulary and the added tokens (Hugging Face's <c>len(tokenizer)</c>).</summary>
    public int VocabularySize { get; }

    public int ImStartId { get; }

    public int ImEndId { get; }

    public int EndOfTextId { get; }

    public int VisionStartId { get; }

    public int VisionEndId { get; }

    public int ImagePadId { get; }

    /// <summary>Loads tokenizer.json from a checkpoint folder.</summary>
    public static QwenTokenizer FromCheckpoint(string checkpointFolder) =>
        FromFile(System.IO.Path.Combine(checkpointFolder, FileName));

    /// <summary>Loads a tokenizer.json file.</summary>
    public static QwenTokenizer FromFile(string tokenizerJsonPath)
    {
        string path = System.IO.Path.GetFullPath(tokenizerJsonPath);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"No {FileName} at {path}. A Qwen2-VL checkpoint folder needs the tokenizer.json of its Hugging Face " +
                "repository: copy it from the model's hub repository into the folder, next to config.json.", path);
        }

        var file = TokenizerFile.Read(path);
        NativeTokenizer native;
        try
        {
            native = new NativeTokenizer(path);
        }
        catch (Exception error) when (error is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            throw new InvalidOperationException(
                "Hugging Face's tokenizers library (libhf_tokenizers, package Tokenizers.DotNet.runtime.linux-x64) " +
                $"did not load: {error.Message}. Build Grid.Policy with its package references so the native " +
                "library is copied next to the assemblies.", error);
        }
        catch (Tokenizers.DotNet.TokenizerException error)
        {
            throw new InvalidDataException(
                $"Hugging Face's tokenizers could not read {path}: {error.Message}. Replace it with the tokenizer.json " +
                "of the checkpoint's hub repository.", error);
        }

        try
        {
            return new QwenTokenizer(path, native, file);
        }
        catch
        {
            native.Dispose();
            throw;
        }
    }

    /// <summary>The ids of <paramref name="text"/>, with no special tokens added (those written in it are kept).</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        ObjectDisposedException.ThrowIf(_disposed, this);
        uint[] ids = _native.Encode(text);
        var result = new int[ids.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            result[i] = checked((int)ids[i]);
        }

        return result;
    }

    /// <summary>
    /// The text of <paramref name="ids"/>. With <paramref name="skipSpecialTokens"/> the special tokens are left out;
    /// without, they are written as their text, as Hugging Face's decode does. Ids the vocabulary lacks are skipped.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var run = new List<uint>(ids.Length);
        var text = new StringBuilder();
        foreach (int id in ids)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(id, nameof(ids));
            if (_specialTokensById.TryGetValue(id, out string? special))
            {
                if (skipSpecialTokens)
                {
                    continue;
                }

                // The byte-level decoder works on the whole run: a character split over two ids must stay whole.
                FlushRun(run, text);
                text.Append(special);
                continue;
            }

            run.Add((uint)id);
        }

        FlushRun(run, text);
        return text.ToString();
    }

    /// <summary>The id of one token (an added token's text, or a vocabulary entry), or null when there is none.</summary>
    public int? TokenToId(string token) => _idsByToken.TryGetValue(token, out int id) ? id : null;

    /// <summary>True for the added tokens marked special (e.g. &lt;|im_end|&gt;, &lt;|image_pad|&gt;).</summary>
    public bool IsSpecial(int id) => _specialTokensById.ContainsKey(id);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _native.Dispose();
    }

    private void FlushRun(List<uint> run, StringBuilder text)
    {
        if (run.Count == 0)
        {
            return;
        }

        text.Append(_native.Decode([.. run]));
        run.Clear();
    }

    private int RequireId(string token) =>
        TokenToId(token) ?? throw new InvalidDataException(
            $"{Path} has no token {token}, which every Qwen2-VL tokenizer has: replace it with the tokenizer.json of " +
            "the checkpoint's hub repository.");

    /// <summary>What Grid reads of tokenizer.json itself: the token ids, and that encoding adds nothing.</summary>
    private sealed record TokenizerFile(Dictionary<string, int> IdsByToken, Dictionary<int, string> SpecialTokensById)
    {
        public static TokenizerFile Read(string path)
        {
            try
            {
                using var stream = File.OpenRead(path);
                using var json = JsonDocument.Parse(stream);
                var root = json.RootElement;
                if (!root.TryGetProperty("model", out var model) || !model.TryGetProperty("vocab", out var vocab) ||
                    vocab.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidDataException("it has no model.vocab object (Qwen's tokenizer is a BPE model)");
                }

                var ids = new Dictionary<string, int>(StringComparer.Ordinal);
                foreach (var entry in vocab.EnumerateObject())
                {
                    ids[entry.Name] = entry.Value.GetInt32();
                }

                var specials = new Dictionary<int, string>();
                if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
                {
                    foreach (var token in added.EnumerateArray())
                    {
                        int id = token.GetProperty("id").GetInt32();
                        string content = token.GetProperty("content").GetString()!;
                        ids[content] = id;
                        if (token.TryGetProperty("special", out var special) && special.ValueKind == JsonValueKind.True)
                        {
                            specials[id] = content;
                        }
                    }
                }

                RequireNull(root, "truncation");
                RequireNull(root, "padding");
                RequireAddsNoTokens(root.TryGetProperty("post_processor", out var post) ? post : default);
                return new TokenizerFile(ids, specials);
            }
            catch (Exception error) when (error is JsonException or InvalidDataException or KeyNotFoundException
                                              or InvalidOperationException or FormatException or IOException
                                              or UnauthorizedAccessException)
            {
                throw new InvalidDataException(
                    $"{path} is not a usable Hugging Face tokenizer.json ({error.Message}). Replace it with the " +
                    "tokenizer.json of the checkpoint's hub repository.", error);
            }
        }

        private static void RequireNull(JsonElement root, string property)
        {
            if (root.TryGetProperty(property, out var value) && value.ValueKind != JsonValueKind.Null)
            {
                throw new InvalidDataException(
                    $"its \"{property}\" is set, which would change every encoding; Qwen's tokenizer.json has null");
            }
        }

        // The native encoder always asks for special tokens; Qwen's post-processor (ByteLevel) adds none, and another
        // that would (a BOS/EOS template) would silently change every prompt.
        private static void RequireAddsNoTokens(JsonElement postProcessor)
        {
            if (postProcessor.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
            {
                return;
            }

            string? type = postProcessor.TryGetProperty("type", out var t) ? t.GetString() : null;
            switch (type)
            {
                case "ByteLevel":
                    return;
                case "Sequence" when postProcessor.TryGetProperty("processors", out var processors):
                    foreach (var inner in processors.EnumerateArray())
                    {
                        RequireAddsNoTokens(inner);
                    }

                    return;
                case "TemplateProcessing" when postProcessor.TryGetProperty("single", out var single) &&
                                               single.EnumerateArray().All(piece => piece.TryGetProperty("Sequence", out _)):
                    return;
                default:
                    throw new InvalidDataException(
                        $"its post_processor ({type ?? "untyped"}) adds tokens to every encoding; Qwen's adds none");
            }
        }
    }
}
