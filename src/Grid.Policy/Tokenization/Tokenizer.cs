using System.Security.Cryptography;
using System.Text;
using Grid.Policy.Prompting;
using Grid.Tasks.Images;

namespace Grid.Policy.Tokenization;

/// <summary>
/// Character-level tokenizer: one token per printable ASCII character (32..126), plus the specials PAD, BOS, EOS,
/// UNK and the four reasoning tags as single tokens. Two vocabularies share those first <see cref="Size"/> ids:
/// <list type="bullet">
/// <item><see cref="Default"/> ("grid-char-v1", <see cref="Size"/> ids): any other character becomes UNK. The
/// built-in tasks are ASCII, so their text never meets UNK; the default policy's embedding has this many rows.</item>
/// <item><see cref="ByteFallback"/> ("grid-char-bytes-v1", <see cref="ByteFallbackSize"/> ids): any other character
/// becomes the bytes of its UTF-8 encoding, one byte token each (ids <see cref="Size"/> + byte), and decoding puts
/// consecutive byte tokens back through UTF-8, so every valid UTF-8 text round-trips exactly. ASCII text encodes to
/// the same ids under both, so a built-in prompt is the same sequence either way.</item>
/// </list>
/// A checkpoint records which one it was trained with (<see cref="Name"/> and <see cref="VocabularySha256"/>).
/// </summary>
public sealed class Tokenizer : IPromptCodec
{
    public const int PadId = 0;
    public const int BosId = 1;
    public const int EosId = 2;
    public const int UnkId = 3;
    public const int ThinkOpenId = 4;
    public const int ThinkCloseId = 5;
    public const int AnswerOpenId = 6;
    public const int AnswerCloseId = 7;
    private const int FirstCharacterId = 8;
    private const char FirstCharacter = ' ';
    private const char LastCharacter = '~';

    /// <summary>8 specials and tags + 95 printable ASCII characters: the <see cref="Default"/> vocabulary.</summary>
    public const int Size = FirstCharacterId + (LastCharacter - FirstCharacter + 1);

    /// <summary>The first byte token's id (byte 0x00); byte b is <c>FirstByteId + b</c>.</summary>
    public const int FirstByteId = Size;

    /// <summary><see cref="Size"/> + 256 byte tokens: the <see cref="ByteFallback"/> vocabulary.</summary>
    public const int ByteFallbackSize = Size + 256;

    public const string DefaultName = "grid-char-v1";
    public const string ByteFallbackName = "grid-char-bytes-v1";

    private static readonly string[] Tags = ["<think>", "</think>", "<answer>", "</answer>"];

    private readonly bool _byteFallback;

    private Tokenizer(string name, bool byteFallback)
    {
        Name = name;
        _byteFallback = byteFallback;
        VocabSize = byteFallback ? ByteFallbackSize : Size;
        var listing = new StringBuilder();
        for (int id = 0; id < VocabSize; id++)
        {
            listing.Append(id).Append('\t').Append(TokenName(id)).Append('\n');
        }

        VocabularySha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(listing.ToString())));
    }

    /// <summary>The character tokenizer every policy used so far: non-ASCII characters become UNK.</summary>
    public static Tokenizer Default { get; } = new(DefaultName, byteFallback: false);

    /// <summary>The same characters plus 256 byte tokens: any UTF-8 text is representable.</summary>
    public static Tokenizer ByteFallback { get; } = new(ByteFallbackName, byteFallback: true);

    /// <summary>Both known tokenizers, for lookups by name.</summary>
    public static IReadOnlyList<Tokenizer> All { get; } = [Default, ByteFallback];

    /// <summary>Stable name recorded in checkpoints, e.g. "grid-char-v1".</summary>
    public string Name { get; }

    /// <summary>Lower-case hex sha256 of the vocabulary listing (one "id TAB token-name" line per id).</summary>
    public string VocabularySha256 { get; }

    public int VocabSize { get; }

    /// <summary>True when unknown characters become UTF-8 byte tokens rather than UNK.</summary>
    public bool HasByteFallback => _byteFallback;

    public int Pad => PadId;

    public int Bos => BosId;

    public int Eos => EosId;

    public int Unk => UnkId;

    public int ThinkOpen => ThinkOpenId;

    public int ThinkClose => ThinkCloseId;

    public int AnswerOpen => AnswerOpenId;

    public int AnswerClose => AnswerCloseId;

    /// <summary>The tokenizer of that name, or null.</summary>
    public static Tokenizer? Find(string name) => All.FirstOrDefault(t => t.Name == name);

    /// <summary>Encodes text; the tags become single tokens, other text one token per character (or, with byte
    /// fallback, one per UTF-8 byte of a non-ASCII character; a lone surrogate becomes the bytes of U+FFFD).
    /// No BOS/EOS added.</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length);
        Span<byte> utf8 = stackalloc byte[4];
        int i = 0;
        while (i < text.Length)
        {
            int tag = text[i] == '<' ? MatchTag(text, i) : -1;
            if (tag >= 0)
            {
                ids.Add(ThinkOpenId + tag);
                i += Tags[tag].Length;
                continue;
            }

            char c = text[i];
            if (c is >= FirstCharacter and <= LastCharacter)
            {
                ids.Add(FirstCharacterId + (c - FirstCharacter));
                i++;
            }
            else if (!_byteFallback)
            {
                ids.Add(UnkId);
                i++;
            }
            else
            {
                int units = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
                if (!Rune.TryCreate(c, out var rune) && (units == 1 || !Rune.TryCreate(c, text[i + 1], out rune)))
                {
                    rune = Rune.ReplacementChar;
                }

                int written = rune.EncodeToUtf8(utf8);
                foreach (byte b in utf8[..written])
                {
                    ids.Add(FirstByteId + b);
                }

                i += units;
            }
        }

        return [.. ids];
    }

    /// <summary>
    /// Decodes ids to text. Tags are written out; PAD, BOS, EOS and UNK are dropped, as are ids outside this
    /// vocabulary. A run of byte tokens is decoded as UTF-8; bytes that are not valid UTF-8 (a policy can sample any
    /// sequence) become U+FFFD, as UTF-8 decoders do.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder(ids.Length);
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (id is >= FirstByteId && id < VocabSize)
            {
                bytes.Add((byte)(id - FirstByteId));
                continue;
            }

            Flush(text, bytes);
            if (id is >= ThinkOpenId and <= AnswerCloseId)
            {
                text.Append(Tags[id - ThinkOpenId]);
            }
            else if (id is >= FirstCharacterId and < Size)
            {
                text.Append((char)(FirstCharacter + (id - FirstCharacterId)));
            }
        }

        Flush(text, bytes);
        return text.ToString();
    }

    private static void Flush(StringBuilder text, List<byte> bytes)
    {
        if (bytes.Count > 0)
        {
            text.Append(Encoding.UTF8.GetString(bytes.ToArray()));
            bytes.Clear();
        }
    }

    /// <summary>Throws when an id is outside a vocabulary of <paramref name="vocabSize"/>, naming where it was.</summary>
    internal static void EnsureInVocabulary(ReadOnlySpan<int> ids, int vocabSize, string what)
    {
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)vocabSize)
            {
                throw new ArgumentException($"{what} holds token id {ids[i]} at index {i}; ids must be in [0, {vocabSize}).");
            }
        }
    }

    /// <summary>A readable name for one id, e.g. "a", "&lt;think&gt;", "[EOS]", "&lt;0xE2&gt;"; for logs and test messages.</summary>
    public string TokenName(int id) => id switch
    {
        PadId => "[PAD]",
        BosId => "[BOS]",
        EosId => "[EOS]",
        UnkId => "[UNK]",
        _ when id is >= 0 and < Size => Decode([id]),
        _ when id >= FirstByteId && id < VocabSize => $"<0x{id - FirstByteId:X2}>",
        _ => $"[{id}?]",
    };

    /// <summary>[BOS] + the question (Grid's small policy reads the image through its own patches, not tokens).</summary>
    public int[] EncodePrompt(RgbImage image, string question) => PromptFormat.EncodePrompt(question, this);

    public int[] EncodeCompletion(string completion) => PromptFormat.EncodeCompletion(completion, this);

    public string DecodeCompletion(ReadOnlySpan<int> completion) => PromptFormat.DecodeCompletion(completion, this);

    public override string ToString() => $"{Name} ({VocabSize} tokens, vocabulary sha256 {VocabularySha256[..12]}...)";

    private static int MatchTag(string text, int start)
    {
        for (int t = 0; t < Tags.Length; t++)
        {
            if (string.CompareOrdinal(text, start, Tags[t], 0, Tags[t].Length) == 0)
            {
                return t;
            }
        }

        return -1;
    }
}
