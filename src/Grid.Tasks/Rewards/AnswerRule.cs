using System.Globalization;
using System.Text;

namespace Grid.Tasks.Rewards;

/// <summary>How an answer is compared with the ground truth; see <see cref="AnswerRule"/>.</summary>
public enum AnswerKind
{
    /// <summary>The built-in tasks' rule (<see cref="AnswerMatcher"/>): by value when both are plain numbers, else as
    /// text ignoring case.</summary>
    Auto,

    /// <summary>Both plain decimal numbers (ASCII digits, optional sign and point) within an absolute tolerance.</summary>
    Numeric,

    /// <summary>A multiple-choice letter A-D; case, whitespace and surrounding punctuation forgiven ("(b)", "B.", " b ").</summary>
    Choice,

    /// <summary>Equal text after normalisation: Unicode NFC, trim, case-fold, whitespace runs collapsed to one space.</summary>
    Text,
}

/// <summary>
/// An answer kind with its parameters (the tolerance of <see cref="AnswerKind.Numeric"/>). Set per dataset or per record
/// ("answer_kind", "tolerance" in a dataset record); the verifier follows the example's rule. Candidates longer than
/// <see cref="MaxTextLength"/> characters are wrong without being parsed.
/// </summary>
public sealed record AnswerRule(AnswerKind Kind, decimal Tolerance = 0)
{
    /// <summary>Longest ground truth or candidate a <see cref="AnswerKind.Text"/> rule compares.</summary>
    public const int MaxTextLength = 256;

    /// <summary>The last letter a multiple-choice answer may be.</summary>
    public const char LastChoice = 'D';

    /// <summary>The built-in tasks' rule; examples without a stated kind use it.</summary>
    public static AnswerRule Auto { get; } = new(AnswerKind.Auto);

    public static AnswerRule Numeric(decimal tolerance = 0) => new(AnswerKind.Numeric, tolerance);

    public static AnswerRule Choice { get; } = new(AnswerKind.Choice);

    public static AnswerRule Text { get; } = new(AnswerKind.Text);

    /// <summary>The names as datasets spell them: auto, numeric, choice, text.</summary>
    public static IReadOnlyList<string> KindNames { get; } = ["auto", "numeric", "choice", "text"];

    public string KindName => KindNames[(int)Kind];

    /// <summary>The kind named <paramref name="name"/> (exact, lower case), or false.</summary>
    public static bool TryParseKind(string name, out AnswerKind kind)
    {
        int index = KindNames.ToList().IndexOf(name);
        kind = index < 0 ? AnswerKind.Auto : (AnswerKind)index;
        return index >= 0;
    }

    /// <summary>Null when <paramref name="groundTruth"/> is an answer this rule can compare, else why not (for refusals).</summary>
    public string? Refusal(string groundTruth)
    {
        ArgumentNullException.ThrowIfNull(groundTruth);
        if (Tolerance < 0)
        {
            return $"the tolerance {Tolerance} is negative; use 0 or more";
        }

        if (Kind != AnswerKind.Numeric && Tolerance != 0)
        {
            return $"a tolerance is set for the {KindName} kind, which has none; drop it or use \"answer_kind\": \"numeric\"";
        }

        return Kind switch
        {
            AnswerKind.Numeric when !AnswerMatcher.TryParsePlainNumber(groundTruth.AsSpan().Trim(), out _) =>
                $"the answer \"{Shorten(groundTruth)}\" is not a plain number (ASCII digits, optional sign and one decimal "
                + "point, e.g. \"3\" or \"-2.5\") as the numeric kind needs; fix the answer or use \"answer_kind\": \"text\"",
            AnswerKind.Choice when ChoiceLetter(groundTruth) is null =>
                $"the answer \"{Shorten(groundTruth)}\" is not a choice letter A-{LastChoice} (e.g. \"B\" or \"(b)\") as the "
                + "choice kind needs; fix the answer or use \"answer_kind\": \"text\"",
            AnswerKind.Text when NormalizeText(groundTruth) is not { Length: > 0 } =>
                $"the answer is empty or longer than {MaxTextLength} characters after normalisation; the text kind compares "
                + "short answers",
            _ => groundTruth.Trim().Length == 0 ? "the answer is blank; give the ground truth" : null,
        };
    }

    /// <summary>Whether an extracted answer (null: none) equals the ground truth under this rule.</summary>
    public bool Matches(string? answer, string groundTruth)
    {
        ArgumentNullException.ThrowIfNull(groundTruth);
        if (answer is null)
        {
            return false;
        }

        switch (Kind)
        {
            case AnswerKind.Numeric:
                var candidate = answer.AsSpan().Trim();
                return AnswerMatcher.TryParsePlainNumber(candidate, out var a)
                    && AnswerMatcher.TryParsePlainNumber(groundTruth.AsSpan().Trim(), out var b)
                    && Math.Abs(a - b) <= Tolerance;
            case AnswerKind.Choice:
                return ChoiceLetter(answer) is { } letter && letter == ChoiceLetter(groundTruth);
            case AnswerKind.Text:
                return NormalizeText(answer) is { Length: > 0 } text && text == NormalizeText(groundTruth);
            default:
                return AnswerMatcher.Matches(answer, groundTruth);
        }
    }

    /// <summary>
    /// The upper-case letter A-<see cref="LastChoice"/> that <paramref name="text"/> is, once whitespace and the
    /// punctuation ()[]{}.,:;'"* around it are stripped; null for anything else ("AB", "A or B", "E", "option B").
    /// </summary>
    public static char? ChoiceLetter(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > AnswerMatcher.MaxAnswerLength)
        {
            return null;
        }

        var core = text.AsSpan().Trim().Trim("()[]{}.,:;'\"* \t\r\n");
        if (core.Length != 1)
        {
            return null;
        }

        char letter = char.ToUpperInvariant(core[0]);
        return letter is >= 'A' and <= LastChoice ? letter : null;
    }

    /// <summary>NFC, trimmed, lower-cased (invariant), whitespace runs as one space; null when longer than
    /// <see cref="MaxTextLength"/> (before or after) or not valid UTF-16.</summary>
    public static string? NormalizeText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > MaxTextLength * 4)
        {
            return null;
        }

        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsSurrogate(text[i]))
            {
                if (!char.IsHighSurrogate(text[i]) || i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]))
                {
                    return null; // a lone surrogate: not text
                }

                i++;
            }
        }

        string nfc = UnicodeNfc.Normalize(text);

        var result = new StringBuilder(nfc.Length);
        bool space = false;
        foreach (char c in nfc.Trim())
        {
            if (char.IsWhiteSpace(c))
            {
                space = true;
                continue;
            }

            if (space)
            {
                result.Append(' ');
                space = false;
            }

            result.Append(c);
        }

        string folded = result.ToString().ToLowerInvariant();
        return folded.Length <= MaxTextLength ? folded : null;
    }

    public override string ToString() => Kind == AnswerKind.Numeric && Tolerance != 0
        ? $"{KindName} (tolerance {Tolerance.ToString(CultureInfo.InvariantCulture)})"
        : KindName;

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..37] + "...";
}
