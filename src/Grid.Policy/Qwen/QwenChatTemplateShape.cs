using System.Text;

namespace Grid.Policy.Qwen;

/// <summary>
/// A Jinja template reduced to what reaches its output: literal text after Jinja's whitespace control (the "-" and
/// "+" markers, and the trim_blocks / lstrip_blocks / no kept trailing newline settings Hugging Face renders chat
/// templates with), and each statement and expression as its tokens (string literals by value), comments dropped.
/// Two templates with equal shapes render the same output for every input.
/// </summary>
internal static class QwenChatTemplateShape
{
    public enum PieceKind
    {
        Text,
        Statement,
        Expression,
    }

    public sealed record Piece(PieceKind Kind, string Content);

    private static readonly string[] TwoCharacterOperators = ["==", "!=", "<=", ">=", "//", "**"];

    /// <exception cref="FormatException">A tag or string literal is not closed.</exception>
    public static IReadOnlyList<Piece> Of(string template)
    {
        var raw = Lex(template);
        var pieces = new List<Piece>();
        for (int i = 0; i < raw.Count; i++)
        {
            var segment = raw[i];
            if (segment.Kind != RawKind.Text)
            {
                if (segment.Kind != RawKind.Comment)
                {
                    pieces.Add(new Piece(
                        segment.Kind == RawKind.Statement ? PieceKind.Statement : PieceKind.Expression,
                        Tokens(segment.Body)));
                }

                continue;
            }

            string text = ControlWhitespace(
                segment.Body, i > 0 ? raw[i - 1] : null, i + 1 < raw.Count ? raw[i + 1] : null, atStart: i == 0);
            if (i == raw.Count - 1 && text.EndsWith('\n'))
            {
                text = text[..^1];
            }

            if (text.Length == 0)
            {
                continue;
            }

            if (pieces.Count > 0 && pieces[^1].Kind == PieceKind.Text)
            {
                pieces[^1] = pieces[^1] with { Content = pieces[^1].Content + text };
            }
            else
            {
                pieces.Add(new Piece(PieceKind.Text, text));
            }
        }

        return pieces;
    }

    private static string ControlWhitespace(string text, RawSegment? before, RawSegment? after, bool atStart)
    {
        int start = 0;
        int end = text.Length;
        if (before is not null)
        {
            if (before.RightMarker == '-')
            {
                while (start < end && char.IsWhiteSpace(text[start]))
                {
                    start++;
                }
            }
            else if (before.IsBlock && before.RightMarker != '+' && text.StartsWith('\n'))
            {
                start = 1;
            }
        }

        if (after is not null)
        {
            if (after.LeftMarker == '-')
            {
                while (end > start && char.IsWhiteSpace(text[end - 1]))
                {
                    end--;
                }
            }
            else if (after.IsBlock && after.LeftMarker != '+')
            {
                int lineStart = text.LastIndexOf('\n') + 1;
                bool onlyIndent = text.AsSpan(lineStart).IndexOfAnyExcept(' ', '\t') < 0;
                if (onlyIndent && (lineStart > 0 || atStart))
                {
                    end = Math.Max(start, lineStart);
                }
            }
        }

        return text[start..end];
    }

    private static string Tokens(string body)
    {
        var tokens = new List<string>();
        int i = 0;
        while (i < body.Length)
        {
            char c = body[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c is '\'' or '"')
            {
                int close = i + 1;
                while (close < body.Length && body[close] != c)
                {
                    close += body[close] == '\\' ? 2 : 1;
                }

                if (close >= body.Length)
                {
                    throw new FormatException($"a string literal in \"{body.Trim()}\" is not closed");
                }

                string value = body[(i + 1)..close];
                // 'x' and "x" are the same string; keep the written form when quoting or escapes make it ambiguous.
                tokens.Add(value.IndexOfAny(['\'', '"', '\\']) < 0 ? $"'{value}'" : body[i..(close + 1)]);
                i = close + 1;
            }
            else if (char.IsLetterOrDigit(c) || c == '_')
            {
                int start = i;
                while (i < body.Length && (char.IsLetterOrDigit(body[i]) || body[i] == '_'))
                {
                    i++;
                }

                tokens.Add(body[start..i]);
            }
            else
            {
                string pair = i + 1 < body.Length ? body.Substring(i, 2) : string.Empty;
                string op = Array.IndexOf(TwoCharacterOperators, pair) >= 0 ? pair : c.ToString();
                tokens.Add(op);
                i += op.Length;
            }
        }

        return string.Join(' ', tokens);
    }

    private static List<RawSegment> Lex(string template)
    {
        var segments = new List<RawSegment>();
        var text = new StringBuilder();
        int i = 0;
        while (i < template.Length)
        {
            RawKind? kind = i + 1 < template.Length && template[i] == '{'
                ? template[i + 1] switch { '%' => RawKind.Statement, '{' => RawKind.Expression, '#' => RawKind.Comment, _ => null }
                : null;
            if (kind is null)
            {
                text.Append(template[i]);
                i++;
                continue;
            }

            segments.Add(new RawSegment(RawKind.Text, text.ToString(), null, null));
            text.Clear();
            string close = kind switch { RawKind.Statement => "%}", RawKind.Expression => "}}", _ => "#}" };
            int bodyStart = i + 2;
            char? left = bodyStart < template.Length && template[bodyStart] is '-' or '+' ? template[bodyStart] : null;
            if (left is not null)
            {
                bodyStart++;
            }

            int closeAt = FindClose(template, bodyStart, close, kind == RawKind.Comment);
            int bodyEnd = closeAt;
            char? right = bodyEnd > bodyStart && template[bodyEnd - 1] is '-' or '+' ? template[bodyEnd - 1] : null;
            if (right is not null)
            {
                bodyEnd--;
            }

            segments.Add(new RawSegment(kind.Value, template[bodyStart..bodyEnd], left, right));
            i = closeAt + 2;
        }

        segments.Add(new RawSegment(RawKind.Text, text.ToString(), null, null));
        return segments;
    }

    private static int FindClose(string template, int from, string close, bool comment)
    {
        char? quote = null;
        for (int i = from; i + 1 < template.Length; i++)
        {
            char c = template[i];
            if (quote is not null)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == quote)
                {
                    quote = null;
                }
            }
            else if (!comment && c is '\'' or '"')
            {
                quote = c;
            }
            else if (c == close[0] && template[i + 1] == close[1])
            {
                return i;
            }
        }

        throw new FormatException($"a Jinja tag opened at character {from - 2} is not closed with \"{close}\"");
    }

    private enum RawKind
    {
        Text,
        Statement,
        Expression,
        Comment,
    }

    private sealed record RawSegment(RawKind Kind, string Body, char? LeftMarker, char? RightMarker)
    {
        /// <summary>Statements and comments are "blocks" for trim_blocks and lstrip_blocks; expressions are not.</summary>
        public bool IsBlock => Kind is RawKind.Statement or RawKind.Comment;
    }
}
