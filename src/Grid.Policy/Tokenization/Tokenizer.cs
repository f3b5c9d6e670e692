using System.Text;

namespace Grid.Policy.Tokenization;

/// <summary>
/// Character-level tokenizer: one token per printable ASCII character (32..126), plus the specials PAD, BOS, EOS,
/// UNK and the four reasoning tags as single tokens. Any other character becomes UNK. The vocabulary is fixed, so
/// every instance agrees; use <see cref="Default"/>.
/// </summary>
public sealed class Tokenizer
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

    /// <summary>8 specials and tags + 95 printable ASCII characters.</summary>
    public const int Size = FirstCharacterId + (LastCharacter - FirstCharacter + 1);

    private static readonly string[] Tags = ["<think>", "</think>", "<answer>", "</answer>"];

    public static Tokenizer Default { get; } = new();

    public int VocabSize => Size;

    public int Pad => PadId;

    public int Bos => BosId;

    public int Eos => EosId;

    public int Unk => UnkId;

    public int ThinkOpen => ThinkOpenId;

    public int ThinkClose => ThinkCloseId;

    public int AnswerOpen => AnswerOpenId;

    public int AnswerClose => AnswerCloseId;

    /// <summary>Encodes text; the tags become single tokens, other text one token per character. No BOS/EOS added.</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length);
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
            ids.Add(c is >= FirstCharacter and <= LastCharacter ? FirstCharacterId + (c - FirstCharacter) : UnkId);
            i++;
        }

        return [.. ids];
    }

    /// <summary>Decodes ids to text. Tags are written out; PAD, BOS, EOS and UNK are dropped, as are unknown ids.</summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder(ids.Length);
        foreach (int id in ids)
        {
            if (id is >= ThinkOpenId and <= AnswerCloseId)
            {
                text.Append(Tags[id - ThinkOpenId]);
            }
            else if (id is >= FirstCharacterId and < Size)
            {
                text.Append((char)(FirstCharacter + (id - FirstCharacterId)));
            }
        }

        return text.ToString();
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

    /// <summary>A readable name for one id, e.g. "a", "&lt;think&gt;", "[EOS]"; for logs and test messages.</summary>
    public string TokenName(int id) => id switch
    {
        PadId => "[PAD]",
        BosId => "[BOS]",
        EosId => "[EOS]",
        UnkId => "[UNK]",
        _ when id is >= 0 and < Size => Decode([id]),
        _ => $"[{id}?]",
    };

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
