using System.Globalization;

namespace Grid.Tasks.Rewards;

/// <summary>
/// Decides whether an extracted answer equals the ground truth (docs/algorithm.md section 1): both are trimmed; when
/// both are plain decimal numbers they compare by value ("70", "70.0", " 70 " are equal), otherwise as text,
/// ignoring case. Only ASCII digits make a number: "٧٠" (Arabic-Indic digits) is not 70, because the tasks ask
/// for ASCII numerals and accepting lookalikes would reward output the tokenizer cannot even round-trip.
/// </summary>
public static class AnswerMatcher
{
    /// <summary>Longest answer considered; anything longer is wrong without being parsed.</summary>
    public const int MaxAnswerLength = 64;

    public static bool Matches(string? answer, string groundTruth)
    {
        ArgumentNullException.ThrowIfNull(groundTruth);
        if (answer is null)
        {
            return false;
        }

        var candidate = answer.AsSpan().Trim();
        var truth = groundTruth.AsSpan().Trim();
        if (candidate.Length == 0 || candidate.Length > MaxAnswerLength)
        {
            return false;
        }

        if (TryParsePlainNumber(candidate, out var a) && TryParsePlainNumber(truth, out var b))
        {
            return a == b;
        }

        return candidate.Equals(truth, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Parses an optional sign, ASCII digits and at most one decimal point, nothing else.</summary>
    public static bool TryParsePlainNumber(ReadOnlySpan<char> text, out decimal value)
    {
        value = 0;
        if (text.Length == 0 || text.Length > MaxAnswerLength)
        {
            return false;
        }

        int i = text[0] is '-' or '+' ? 1 : 0;
        bool digits = false, point = false;
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (c is >= '0' and <= '9')
            {
                digits = true;
            }
            else if (c == '.' && !point)
            {
                point = true;
            }
            else
            {
                return false;
            }
        }

        return digits && decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint,
            CultureInfo.InvariantCulture, out value);
    }
}
