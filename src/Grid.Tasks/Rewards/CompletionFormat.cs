namespace Grid.Tasks.Rewards;

/// <summary>
/// Parses completions of the form <c>&lt;think&gt;...&lt;/think&gt;\s*&lt;answer&gt;...&lt;/answer&gt;</c> (docs/algorithm.md
/// section 1) with linear scans only, so a hostile 1 MB completion costs microseconds, never a regex blow-up.
/// </summary>
/// <remarks>
/// Stricter than the bare regex on purpose: the think and answer blocks appear exactly once each and contain no
/// other think/answer tag. The regex would accept <c>&lt;answer&gt;1&lt;/answer&gt;&lt;answer&gt;2&lt;/answer&gt;</c>, letting a
/// policy hedge by listing several answers.
/// </remarks>
public static class CompletionFormat
{
    public const string ThinkOpen = "<think>";
    public const string ThinkClose = "</think>";
    public const string AnswerOpen = "<answer>";
    public const string AnswerClose = "</answer>";

    private static readonly string[] s_tags = [ThinkOpen, ThinkClose, AnswerOpen, AnswerClose];

    /// <summary>True when the whole completion is one think block, optional whitespace, one answer block.</summary>
    public static bool IsWellFormed(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        var text = completion.AsSpan();
        if (!text.StartsWith(ThinkOpen, StringComparison.Ordinal))
        {
            return false;
        }

        int thinkEnd = text.IndexOf(ThinkClose, StringComparison.Ordinal);
        if (thinkEnd < 0 || ContainsTag(text[ThinkOpen.Length..thinkEnd]))
        {
            return false;
        }

        var rest = text[(thinkEnd + ThinkClose.Length)..].TrimStart();
        if (!rest.StartsWith(AnswerOpen, StringComparison.Ordinal) || !rest.EndsWith(AnswerClose, StringComparison.Ordinal)
            || rest.Length < AnswerOpen.Length + AnswerClose.Length)
        {
            return false;
        }

        return !ContainsTag(rest[AnswerOpen.Length..^AnswerClose.Length]);
    }

    /// <summary>
    /// The text inside the completion's only <c>&lt;answer&gt;</c> block, or null when there is no complete answer
    /// block, or more than one (several answers are never credited).
    /// </summary>
    public static string? ExtractAnswer(string completion)
    {
        ArgumentNullException.ThrowIfNull(completion);
        var text = completion.AsSpan();
        int open = text.IndexOf(AnswerOpen, StringComparison.Ordinal);
        if (open < 0)
        {
            return null;
        }

        int start = open + AnswerOpen.Length;
        int length = text[start..].IndexOf(AnswerClose, StringComparison.Ordinal);
        if (length < 0)
        {
            return null;
        }

        var answer = text.Slice(start, length);
        var after = text[(start + length + AnswerClose.Length)..];
        if (answer.Contains(AnswerOpen, StringComparison.Ordinal) || after.Contains(AnswerOpen, StringComparison.Ordinal))
        {
            return null;
        }

        return answer.ToString();
    }

    private static bool ContainsTag(ReadOnlySpan<char> text)
    {
        foreach (var tag in s_tags)
        {
            if (text.Contains(tag, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
