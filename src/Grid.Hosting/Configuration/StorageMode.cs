namespace Grid.Hosting.Configuration;

/// <summary>Where grain state and weights live.</summary>
public enum StorageMode
{
    /// <summary>Grain state in memory, weights in a local folder: embedded mode, nothing survives the process.</summary>
    Memory,

    /// <summary>Grain state in Azure Table (small) and Azure Blob (large), weights in Azure Blob.</summary>
    Azure,
}
