namespace Grid.Tasks.Datasets;

/// <summary>A dataset file the loader refuses, with where and why: "data.jsonl line 7: reason".</summary>
public sealed class DatasetFormatException : Exception
{
    public DatasetFormatException(string filePath, int lineNumber, string reason, Exception? innerException = null)
        : base($"{filePath} line {lineNumber}: {reason}", innerException)
    {
        FilePath = filePath;
        LineNumber = lineNumber;
        Reason = reason;
    }

    public string FilePath { get; }

    /// <summary>1-based line of the JSONL file.</summary>
    public int LineNumber { get; }

    public string Reason { get; }
}
