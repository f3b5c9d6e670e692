using System.Text;

namespace Grid.Tasks.Rewards;

/// <summary>
/// Unicode Normalization Form C (canonical decomposition, canonical ordering, canonical composition; UAX #15), from
/// tables generated out of Python's unicodedata (<see cref="UnicodeNfcData"/>). Grid runs with invariant
/// globalization, where <see cref="string.Normalize()"/> leaves non-ASCII text unchanged, so the text answer kind brings
/// its own. Input must be valid UTF-16 (callers refuse lone surrogates first).
/// </summary>
internal static class UnicodeNfc
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Dictionary<int, (int First, int Second)> s_decompositions = Build(UnicodeNfcData.Decompositions, 3,
        row => (row[0], (row[1], row[2])));

    private static readonly Dictionary<int, int> s_classes = Build(UnicodeNfcData.CombiningClasses, 2, row => (row[0], row[1]));

    private static readonly Dictionary<long, int> s_compositions = Build(UnicodeNfcData.Compositions, 3,
        row => (((long)row[0] << 21) | (uint)row[1], row[2]));

    public static string Normalize(string text)
    {
        if (text.All(char.IsAscii))
        {
            return text;
        }

        var points = new List<int>(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            Decompose(rune.Value, points);
        }

        // Canonical ordering: a stable sort of each run of non-starters by combining class.
        for (int i = 1; i < points.Count; i++)
        {
            int ccc = Class(points[i]);
            for (int j = i; ccc != 0 && j > 0 && Class(points[j - 1]) > ccc; j--)
            {
                (points[j - 1], points[j]) = (points[j], points[j - 1]);
            }
        }

        Compose(points);
        var result = new StringBuilder(points.Count);
        foreach (int point in points)
        {
            result.Append(char.ConvertFromUtf32(point));
        }

        return result.ToString();
    }

    private static int Class(int point) => s_classes.GetValueOrDefault(point);

    private static void Decompose(int point, List<int> into)
    {
        if (point is >= SBase and < SBase + SCount)
        {
            int s = point - SBase;
            into.Add(LBase + (s / NCount));
            into.Add(VBase + (s % NCount / TCount));
            if (s % TCount != 0)
            {
                into.Add(TBase + (s % TCount));
            }

            return;
        }

        if (s_decompositions.TryGetValue(point, out var parts))
        {
            Decompose(parts.First, into);
            if (parts.Second >= 0)
            {
                Decompose(parts.Second, into);
            }

            return;
        }

        into.Add(point);
    }

    private static void Compose(List<int> points)
    {
        if (points.Count == 0)
        {
            return;
        }

        int starter = 0, lastClass = Class(points[0]) == 0 ? 0 : 256, write = 1;
        for (int read = 1; read < points.Count; read++)
        {
            int point = points[read], ccc = Class(point);
            int composite = TryCompose(points[starter], point);
            bool blocked = write > starter + 1 && (lastClass == 0 || lastClass >= ccc);
            if (composite >= 0 && !blocked && lastClass != 256)
            {
                points[starter] = composite;
                continue;
            }

            if (ccc == 0)
            {
                starter = write;
            }

            lastClass = ccc;
            points[write++] = point;
        }

        points.RemoveRange(write, points.Count - write);
    }

    private static int TryCompose(int first, int second)
    {
        if (first is >= LBase and < LBase + LCount && second is >= VBase and < VBase + VCount)
        {
            return SBase + (((first - LBase) * VCount) + (second - VBase)) * TCount;
        }

        if (first is >= SBase and < SBase + SCount && (first - SBase) % TCount == 0 && second is > TBase and < TBase + TCount)
        {
            return first + (second - TBase);
        }

        return s_compositions.TryGetValue(((long)first << 21) | (uint)second, out int composite) ? composite : -1;
    }

    private static Dictionary<TKey, TValue> Build<TKey, TValue>(int[] data, int width, Func<int[], (TKey, TValue)> row)
        where TKey : notnull
    {
        var result = new Dictionary<TKey, TValue>(data.Length / width);
        for (int i = 0; i < data.Length; i += width)
        {
            var (key, value) = row(data[i..(i + width)]);
            result[key] = value;
        }

        return result;
    }
}
