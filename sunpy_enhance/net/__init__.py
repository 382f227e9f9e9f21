"""
Data access, and nothing else: what to ask JSOC for (`sunpy_enhance.net.records`: series, record sets,
cutouts), the JSOC client (`sunpy_enhance.net.jsoc`), resumable exports (`sunpy_enhance.net.exports`),
verified downloads (`sunpy_enhance.net.download`) and Fido results (`sunpy_enhance.net.fido`). Enhancing
what was fetched is `sunpy_enhance.files`' job.
"""
