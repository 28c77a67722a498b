"""Reports for the district office: campaign facts per unit, the assessment, the supervisors'
board, list exports (xlsx, CSV) with the streaming xlsx writer, and the .docx summary draft."""
